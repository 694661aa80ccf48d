"""Behaviour that follows the reference training script (tools/lambda/train_lambda_real.py
and scripts/train/lambda/*): the validation schedule, the seed, the global batch of a step,
TEST.MODEL_FILE as the start of training; and the first lines of a training log
(threads, batch, LR, precision) and where its tensorboard events go."""
import pytest
import torch

from mipnet.config import ConfigError, load_config, run_differences, run_log_dir
from mipnet.engine import preflight
from mipnet.engine.batch import describe_run, plan_batch, precision_name
from mipnet.engine.train import Trainer, validation_due
from mipnet.models import build_model
from mipnet.utils import dist
from mipnet.utils.checkpoint import CheckpointError
from mipnet.utils.dist import cpu_threads_hint
from tests.conftest import REPO
from tests.engine.conftest import TINY


@pytest.mark.parametrize('freq, end, expected', [
    (10, 25, [0, 10, 20, 24]),      # the baseline's FREQ 10: epochs 0, 10, 20 and the last
    (1, 3, [0, 1, 2]),
    (2, 3, [0, 2]),
    (5, 1, [0]),
    (0, 4, [3]),                    # 0: after the last epoch only
])
def test_validation_schedule_follows_the_reference(freq, end, expected):
    assert [e for e in range(end) if validation_due(e, freq, end - 1)] == expected


def test_seed_defaults_to_the_reference_and_is_never_negative():
    assert load_config(TINY, ['SEED', '0']).SEED == 0
    from mipnet.config import get_cfg
    assert get_cfg().SEED == 0
    with pytest.raises(ConfigError, match=r'SEED = -1 must be >= 0'):
        load_config(TINY, ['SEED', '-1'])
    with pytest.raises(ConfigError, match=r'EPOCH_EVAL_FREQ = -2 must be >= 0'):
        load_config(TINY, ['EPOCH_EVAL_FREQ', '-2'])


def test_checkpoints_of_the_former_default_seed_resume():
    """SEED -1 (the former default) seeded the run exactly as SEED 0."""
    cfg = load_config(TINY)
    stored = cfg.dump().replace('SEED: 0', 'SEED: -1')
    assert 'SEED: -1' in stored
    assert run_differences(stored, cfg) == []
    assert run_differences(stored.replace('SEED: -1', 'SEED: 3'), cfg) == [('SEED', 3, 0)]


# ---- the batch of a step ---------------------------------------------------------------
def _plan(global_batch, world, per_gpu=10):
    cfg = load_config(TINY, ['TRAIN.GLOBAL_BATCH_SIZE', str(global_batch)])
    cfg.defrost()
    cfg.TRAIN.BATCH_SIZE_PER_GPU = per_gpu
    return plan_batch(cfg, world)


def test_global_batch_is_split_over_the_processes():
    # The reference's COCO W48 command: 4 GPUs x 10 boxes.
    assert _plan(40, 8)[:3] == (5, 8, 40) and _plan(40, 8).note == ''
    assert _plan(40, 4)[:3] == (10, 4, 40)
    assert _plan(40, 1)[:3] == (40, 1, 40)
    # Not divisible: rounded (half up), at least 1, and said.
    plan = _plan(40, 3)
    assert plan[:3] == (13, 3, 39)
    assert plan.note.startswith('TRAIN.GLOBAL_BATCH_SIZE 40 does not divide over 3 processes: '
                                '13 boxes per device, 39 per step')
    assert _plan(7, 2)[:3] == (4, 2, 8)
    assert _plan(2, 8)[:3] == (1, 8, 8)
    # 0: the per-device batch of the config on every device.
    assert _plan(0, 8)[:4] == (10, 8, 80, 0)
    assert describe_run(_plan(40, 8), 0.001, precision_name(False, 'cuda')) == \
        'world size 8, batch 5 per device x 8 = 40 global (TRAIN.GLOBAL_BATCH_SIZE 40), ' \
        'LR 0.001, precision fp32'
    assert precision_name(True, 'cuda') == 'AMP float16'
    assert precision_name(True, 'cpu') == 'AMP bfloat16'


def test_mipnet_configs_keep_the_reference_global_batch():
    """GPUS x BATCH_SIZE_PER_GPU of the reference commands; an explicit per-device batch
    wins; the HRNet baselines keep their per-device batch (the Ascend port's 24)."""
    configs = REPO / 'experiments'
    for name, expected in (('coco/hrnet/w48_384x288_adam_lr1e-3.yaml', 40),
                           ('coco/hrnet/w32_256x192_adam_lr1e-3.yaml', 128),
                           ('crowdpose/hrnet/w48_384x288_adam_lr1e-3.yaml', 30),
                           ('ochuman/hrnet/w48_384x288_adam_lr1e-3.yaml', 40),
                           ('coco/baseline/w48_384x288_adam_lr1e-3.yaml', 0)):
        assert load_config(str(configs / name)).TRAIN.GLOBAL_BATCH_SIZE == expected, name
    cfg = load_config(str(configs / 'coco/hrnet/w48_384x288_adam_lr1e-3.yaml'),
                      ['TRAIN.BATCH_SIZE_PER_GPU', '6'])
    assert cfg.TRAIN.GLOBAL_BATCH_SIZE == 0 and plan_batch(cfg, 8)[:3] == (6, 8, 48)
    baseline = load_config(str(configs / 'coco/baseline/w48_384x288_adam_lr1e-3.yaml'))
    assert plan_batch(baseline, 8)[:3] == (24, 8, 192)
    with pytest.raises(ConfigError, match='TRAIN.GLOBAL_BATCH_SIZE = -1 must be >= 0'):
        load_config(TINY, ['TRAIN.GLOBAL_BATCH_SIZE', '-1'])


# ---- the start of a training run -------------------------------------------------------
def _reference_checkpoint(cfg, path, lr):
    """A MIPNet checkpoint as the reference's training script writes it (DataParallel
    prefixes, an optimizer state, no scheduler)."""
    model = build_model(cfg)
    with torch.no_grad():
        model.final_layer.weight.fill_(0.25)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    torch.save({'epoch': 7, 'model': cfg.MODEL.NAME,
                'state_dict': {'module.' + k: v for k, v in model.state_dict().items()},
                'latest_state_dict': model.state_dict(), 'perf': 0.0,
                'optimizer': optimizer.state_dict()}, path)


def _start(root, tmp_path, *opts):
    cfg = load_config(TINY, ['DATASET.ROOT', str(root), 'OUTPUT_DIR', str(tmp_path / 'out'),
                             'DEVICE', 'cpu', 'WORKERS', '0', *opts])
    try:
        return Trainer(cfg, TINY)
    finally:
        preflight.release_locks()
        dist.cleanup()


def test_training_start(synthetic_root, tmp_path, monkeypatch):
    """One start of a tiny run: the global batch on one process, the first log lines,
    tensorboard under OUTPUT_DIR, and TEST.MODEL_FILE (weights and optimizer) honoured as
    the reference's training script does, before TRAIN.INIT_CHECKPOINT."""
    monkeypatch.chdir(tmp_path)
    start = tmp_path / 'reference_checkpoint.pth'
    _reference_checkpoint(load_config(TINY), start, lr=0.0004)
    trainer = _start(synthetic_root, tmp_path, 'TRAIN.GLOBAL_BATCH_SIZE', '12',
                     'TEST.MODEL_FILE', str(start),
                     'TRAIN.INIT_CHECKPOINT', str(tmp_path / 'not_read.pth'))
    assert trainer.cfg.TRAIN.BATCH_SIZE_PER_GPU == 12
    assert trainer.train_loader.batch_size == 12
    log = open(trainer.log_file).read()
    assert f'device: cpu (torch threads {torch.get_num_threads()})  world size: 1' in log
    assert 'run: world size 1, batch 12 per device x 1 = 12 global ' \
        '(TRAIN.GLOBAL_BATCH_SIZE 12), LR 0.002, precision fp32' in log
    # TEST.MODEL_FILE: its weights, its optimizer (LR), and INIT_CHECKPOINT not read.
    assert torch.all(trainer.model.final_layer.weight == 0.25)
    assert trainer.optimizer.param_groups[0]['lr'] == pytest.approx(0.0004)
    assert f'TEST.MODEL_FILE {start}: training starts from its weights' in log
    assert f'TRAIN.INIT_CHECKPOINT {tmp_path / "not_read.pth"} is not read' in log
    assert f'=> optimizer state loaded from {start} (LR 0.0004)' in log
    # Tensorboard events under OUTPUT_DIR/log/<dataset>/<model>/<config>, none in ./log.
    events = tmp_path / 'out' / 'log' / 'synthetic' / 'pose_hrnet_se_lambda' / 'tiny_mipnet'
    assert trainer.tensorboard_dir == str(events)
    trainer.writer.close()
    assert any(p.name.startswith('events.out.tfevents') for p in events.iterdir())
    assert not (tmp_path / 'log').exists()


def test_model_file_and_pth_path_conflict(synthetic_root, tmp_path):
    start = tmp_path / 'w.pth'
    _reference_checkpoint(load_config(TINY), start, lr=0.001)
    cfg = load_config(TINY, ['DATASET.ROOT', str(synthetic_root), 'OUTPUT_DIR',
                             str(tmp_path / 'out'), 'DEVICE', 'cpu', 'TEST.MODEL_FILE',
                             str(start)])
    with pytest.raises(ConfigError, match='--pth_path .* and TEST.MODEL_FILE .* both name'):
        try:
            Trainer(cfg, TINY, finetune_file=str(start))
        finally:
            preflight.release_locks()
            dist.cleanup()


def test_model_file_whose_optimizer_does_not_fit(synthetic_root, tmp_path):
    """An HRNet checkpoint's optimizer has fewer parameters than MIPNet's: one error
    pointing to --init_checkpoint (the weights alone)."""
    start = tmp_path / 'hrnet.pth'
    _reference_checkpoint(load_config(TINY, ['MODEL.NAME', 'pose_hrnet']), start, lr=0.001)
    with pytest.raises(CheckpointError, match=f'TEST.MODEL_FILE {start}: its optimizer state '
                                              'does not fit .* --init_checkpoint'):
        _start(synthetic_root, tmp_path, 'TEST.MODEL_FILE', str(start))


def test_cpu_threads_hint():
    hint = cpu_threads_hint('cpu', load=10.5, cores=2, threads=2)
    assert 'load average 10.5 on 2 usable cores' in hint and 'OMP_NUM_THREADS=1' in hint
    assert cpu_threads_hint('cpu', load=1.5, cores=2, threads=2) is None
    assert cpu_threads_hint('cpu', load=10.5, cores=2, threads=1) is None
    assert cpu_threads_hint('cuda', load=10.5, cores=2, threads=2) is None


def test_log_dir_defaults_under_output_dir():
    cfg = load_config(TINY, ['OUTPUT_DIR', '/runs/a'])
    assert cfg.LOG_DIR == ''
    assert run_log_dir(cfg, TINY) == '/runs/a/log/synthetic/pose_hrnet_se_lambda/tiny_mipnet'
    cfg = load_config(TINY, ['OUTPUT_DIR', '/runs/a', 'LOG_DIR', '/tb'])
    assert run_log_dir(cfg, TINY) == '/tb/synthetic/pose_hrnet_se_lambda/tiny_mipnet'
