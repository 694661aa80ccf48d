"""Schedules and resumption: BEGIN_EPOCH shifts the LR steps as the reference does, reference /
Ascend checkpoints (no scheduler) resume, AUTO_RESUME refuses a checkpoint of another run, and
tools/train.py takes the Ascend port's arguments."""
import pytest
import torch

from mipnet.config import ConfigError, load_config
from mipnet.cli.train_test import train_options, train_main
from mipnet.engine.optim import shifted_milestones
from mipnet.engine.train import Trainer
from mipnet.utils import dist
from mipnet.utils.checkpoint import CheckpointError
from tests.engine.conftest import TINY, tiny_opts


def _trainer(root, tmp_path, *extra, resume=None):
    cfg = load_config(TINY, tiny_opts(root, tmp_path, 'DEVICE', 'cpu', 'WORKERS', '0', *extra))
    try:
        return Trainer(cfg, TINY, resume_file=resume)
    finally:
        dist.cleanup()


def _lrs(trainer, epochs):
    out = []
    for _ in range(epochs):
        out.append(trainer.optimizer.param_groups[0]['lr'])
        trainer.optimizer.step()
        trainer.scheduler.step()
    return out


def test_begin_epoch_shifts_the_lr_steps_like_the_reference():
    # Reference tools/lambda/train_lambda_real.py: lr_step - begin_epoch, negatives dropped.
    assert shifted_milestones([70, 100], 0) == [70, 100]
    assert shifted_milestones([70, 100], 80) == [20]
    assert shifted_milestones([170, 200], 170) == [0, 30]


def test_begin_epoch_without_resume(synthetic_root, tmp_path):
    trainer = _trainer(synthetic_root, tmp_path, 'TRAIN.BEGIN_EPOCH', '3', 'TRAIN.LR_STEP',
                       '[4, 6]', 'TRAIN.END_EPOCH', '8', 'TRAIN.LR', '0.1')
    assert trainer.begin_epoch == 3
    # Epochs 3..7: steps at 4 and 6 become local steps 1 and 3.
    assert _lrs(trainer, 5) == pytest.approx([0.1, 0.01, 0.01, 0.001, 0.001])


def _reference_checkpoint(trainer, epoch, path):
    """A checkpoint as the reference's train_lambda_real.py writes it (DataParallel prefixes,
    no scheduler, no config)."""
    weights = {'module.' + k: v for k, v in trainer.model.state_dict().items()}
    torch.save({'epoch': epoch, 'model': 'pose_hrnet_se_lambda', 'state_dict': weights,
                'latest_state_dict': trainer.model.state_dict(),
                'best_state_dict': trainer.model.state_dict(), 'perf': 0.0,
                'optimizer': trainer.optimizer.state_dict()}, path)


def test_reference_checkpoint_resumes_with_the_schedule_rebuilt(synthetic_root, tmp_path):
    opts = ('TRAIN.LR_STEP', '[2, 4]', 'TRAIN.END_EPOCH', '6', 'TRAIN.LR', '0.1')
    source = _trainer(synthetic_root, tmp_path, *opts)
    with torch.no_grad():
        source.model.conv1.weight.add_(1.0)
    path = tmp_path / 'checkpoint_3.pth'
    _reference_checkpoint(source, 3, path)
    resumed = _trainer(synthetic_root, tmp_path / 'b', *opts, resume=str(path))
    assert resumed.begin_epoch == 3
    assert torch.equal(resumed.model.conv1.weight, source.model.conv1.weight)
    # Epochs 3, 4, 5 of an uninterrupted run with steps at 2 and 4: 0.01, 0.001, 0.001.
    assert _lrs(resumed, 3) == pytest.approx([0.01, 0.001, 0.001])


def test_weights_only_file_is_not_a_training_checkpoint(synthetic_root, tmp_path):
    source = _trainer(synthetic_root, tmp_path)
    path = tmp_path / 'w.pth'
    torch.save(source.model.state_dict(), path)
    with pytest.raises(CheckpointError, match='not a training checkpoint'):
        _trainer(synthetic_root, tmp_path / 'b', resume=str(path))


def test_auto_resume_checks_the_stored_config(synthetic_root, tmp_path, capsys):
    opts = tiny_opts(synthetic_root, tmp_path, 'DEVICE', 'cpu', 'WORKERS', '0',
                     'TRAIN.END_EPOCH', '1', 'EPOCH_EVAL_FREQ', '5', 'AUTO_RESUME', 'True')
    train_main(['--cfg', TINY, *opts])
    # Same run settings (the print frequency does not change the run): resumes, loudly.
    summary = train_main(['--cfg', TINY, *opts, 'PRINT_FREQ', '5'])
    log = open(summary['log_file']).read()
    assert 'RESUMING (AUTO_RESUME): resumed from' in log and 'at epoch 1' in log
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        train_main(['--cfg', TINY, *opts, 'TRAIN.LR', '0.5', 'MODEL.SIGMA', '3'])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert 'MODEL.SIGMA: 2 in the checkpoint, 3 now; TRAIN.LR: 0.002 in the checkpoint, ' \
           '0.5 now.' in err[0]
    assert 'another OUTPUT_DIR' in err[0] and '--check_point' in err[0]


def test_train_py_accepts_the_ascend_arguments():
    args, extra = train_options(['--cfg', TINY, '--data_path', '/data/coco', '--perf', '1',
                                 '--workers', '6', '--local_rank', '0', '--is_distributed', '0',
                                 '--device_id', '0', '--amp', '--opt_level', 'O1',
                                 '--loss_scale', '128', '--batch_size', '16', '--epochs', '3',
                                 '--lr', '0.002', '--world_size', '8', '--addr', '127.0.0.1',
                                 '--dist_backend', 'hccl', 'TRAIN.SHUFFLE', 'False'])
    assert args.perf is True and args.workers == 6 and args.data_path == '/data/coco'
    assert extra == ['TRAIN.MAX_STEPS', '781', 'TRAIN.AMP', 'True',
                     'TRAIN.BATCH_SIZE_PER_GPU', '16', 'TRAIN.END_EPOCH', '3', 'TRAIN.LR',
                     '0.002']
    assert args.opts == ['TRAIN.SHUFFLE', 'False']
    _, extra = train_options(['--cfg', TINY, '--perf', '1', '--perf_steps', '7', '--amp', '0'])
    assert extra == ['TRAIN.MAX_STEPS', '7', 'TRAIN.AMP', 'False']
    _, extra = train_options(['--cfg', TINY, '--perf', '0'])
    assert extra == []


def test_reference_dataset_names_are_aliases():
    # Names of the reference launchers (scripts/train/lambda/*, scripts/test/*).
    cfg = load_config(TINY, ['DATASET.TRAIN_DATASET', 'coco_lambda',
                             'DATASET.TRAIN_DATASET_TYPE', 'coco_lambda',
                             'DATASET.TEST_DATASET', 'crowdpose_lambda'])
    assert cfg.DATASET.TRAIN_DATASET == 'coco' and cfg.DATASET.TEST_DATASET == 'crowdpose'


@pytest.mark.parametrize('name, codes', [('coco_lambda_012', 3), ('coco_lambda_0123', 4)])
def test_reference_datasets_with_other_targets_are_refused(name, codes):
    """The reference's 3- and 4-code λ variants have targets of their own: one error naming
    what this port offers instead (MODEL.NUM_INSTANCES), never a silent 2-instance COCO."""
    with pytest.raises(ConfigError) as exc:
        load_config(TINY, ['DATASET.TRAIN_DATASET', name])
    message = str(exc.value)
    assert message.startswith(f"DATASET.TRAIN_DATASET = '{name}' is the reference's "
                              f'{codes}-code λ variant')
    assert f'MODEL.NUM_INSTANCES {codes}' in message and '\n' not in message


def test_init_checkpoint_is_not_read_when_resuming(synthetic_root, tmp_path):
    source = _trainer(synthetic_root, tmp_path)
    path = tmp_path / 'checkpoint_1.pth'
    _reference_checkpoint(source, 1, path)
    resumed = _trainer(synthetic_root, tmp_path / 'b', 'TRAIN.INIT_CHECKPOINT',
                       str(tmp_path / 'absent.pth'), resume=str(path))
    assert resumed.begin_epoch == 1
    with pytest.raises(CheckpointError, match='absent.pth'):
        _trainer(synthetic_root, tmp_path / 'c', 'TRAIN.INIT_CHECKPOINT',
                 str(tmp_path / 'absent.pth'))
