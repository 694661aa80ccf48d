"""The model-zoo launchers of test/ on CPU: argument errors, a 1-device performance run,
a 2-process torchrun (gloo) accuracy run, and a run whose rank fails."""
import os
import shutil
import time

import pytest
import torch

from mipnet.cli.cache_images import main as cache_images_main

from tests.launchers.conftest import DETECTIONS, TINY, final_value

TRAIN_SCRIPTS = ['train_performance_1p', 'train_full_1p', 'train_finetune_1p', 'train_full_8p',
                 'train_performance_8p']


def _single_error_line(proc):
    assert proc.returncode == 1, proc.output
    assert proc.stdout == '', proc.output
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith('error: ')
    return lines[0]


# ---- argument errors (no Python started) -----------------------------------------------
@pytest.mark.parametrize('script', TRAIN_SCRIPTS + ['eval_8p'])
def test_missing_data_path(launcher, script):
    line = _single_error_line(launcher.run(script, '--cfg', TINY))
    assert line.startswith('error: --data_path is required')


def test_data_path_not_a_directory(launcher, tmp_path):
    line = _single_error_line(launcher.run('train_full_8p', f'--data_path={tmp_path}/nowhere'))
    assert f'{tmp_path}/nowhere' in line and 'not a directory' in line


@pytest.mark.parametrize('args, message', [
    (['--bogus', '1'], "unknown option '--bogus'"),
    (['--perf=2'], '--perf must be 0 or 1'),
    (['--nproc', 'x'], '--nproc must be a non-negative integer'),
    (['--cfg'], 'option --cfg needs a value'),
    (['--cfg', 'no/such.yaml'], 'config file not found'),
    (['TRAIN.LR'], "'TRAIN.LR' has no value"),
    (['--check_point', 'no/such.pth'], '--check_point'),
    (['--image_cache', 'no/cache'], 'no/cache holds no image cache (index.json); build it '
                                    'with: python tools/cache_images.py'),
    (['--image_cache', 'no/my cache'], 'no/my cache holds no image cache (index.json); build '
                                       'it with: python tools/cache_images.py --cfg <config> '
                                       '--data_path <root> --out '),
    (['--image_cache', 'no/my cache'], r'/no/my\ cache'),
    (['--epochs', '0'], '--epochs must be at least 1'),
    (['--epochs', 'x'], '--epochs must be a non-negative integer'),
])
def test_bad_arguments(launcher, tmp_path, args, message):
    line = _single_error_line(launcher.run('train_performance_1p', f'--data_path={tmp_path}',
                                           *args))
    assert message in line


def test_finetune_requires_pth_path(launcher, tmp_path):
    line = _single_error_line(launcher.run('train_finetune_1p', f'--data_path={tmp_path}'))
    assert '--pth_path is required' in line


# ---- dataset layout (one probe each) -----------------------------------------------------
def test_data_path_without_coco_layout(launcher, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    line = _single_error_line(launcher.run('train_full_8p', f'--data_path={empty}',
                                           '--device', 'cpu'))
    assert f'{empty}/annotations/person_keypoints_train2017.json' in line
    assert 'not found' in line and 'expected a COCO root' in line


def test_data_of_another_config_names_the_config(launcher, data_root):
    """Synthetic data with the default (COCO) config: the error says which --cfg fits."""
    line = _single_error_line(launcher.run('train_performance_1p', f'--data_path={data_root}',
                                           '--device', 'cpu'))
    assert f'{data_root}/annotations/person_keypoints_train2017.json' in line
    assert line.endswith('. --data_path holds the sets of other configs: pass --cfg '
                         'experiments/synthetic/demo_mipnet.yaml (or '
                         'experiments/synthetic/small_mipnet.yaml, '
                         'experiments/synthetic/tiny_mipnet.yaml, ...)'), line


def test_layout_check_follows_overridden_set_names(launcher, data_root):
    line = _single_error_line(launcher.run('train_full_1p', f'--data_path={data_root}',
                                           '--cfg', TINY, '--device', 'cpu',
                                           'DATASET.TEST_SET', 'nosuch'))
    assert f'{data_root}/annotations/person_keypoints_nosuch.json' in line
    assert 'person_keypoints_train.json' not in line.split(' not found')[0]


def test_missing_pretrained_weights(launcher, coco_layout_root):
    """The default config needs the ImageNet weights: one error line before any process."""
    line = _single_error_line(launcher.run('train_performance_8p',
                                           f'--data_path={coco_layout_root}', '--nproc', '2',
                                           '--device', 'cpu', 'TRAIN.INIT_CHECKPOINT', '',
                                           'MODEL.PRETRAINED', f'{launcher.out}/hrnet_w48.pth'))
    assert f'MODEL.PRETRAINED {launcher.out}/hrnet_w48.pth not found' in line
    assert 'MODEL.PRETRAINED "" to train from scratch' in line


def test_missing_init_checkpoint(launcher, coco_layout_root):
    """The default (MIPNet) config starts from the COCO HRNet checkpoint of the reference."""
    line = _single_error_line(launcher.run('train_performance_8p',
                                           f'--data_path={coco_layout_root}', '--nproc', '2',
                                           '--device', 'cpu', 'TRAIN.INIT_CHECKPOINT',
                                           f'{launcher.out}/pose_hrnet_w48_384x288.pth'))
    assert f'TRAIN.INIT_CHECKPOINT {launcher.out}/pose_hrnet_w48_384x288.pth not found' in line
    assert 'Reproducing the reference' in line


def test_model_file_of_a_training_run_must_exist(launcher, data_root):
    """Training starts from TEST.MODEL_FILE (as the reference's script): checked first."""
    line = _single_error_line(launcher.run('train_full_1p', f'--data_path={data_root}',
                                           '--cfg', TINY, '--device', 'cpu', 'TEST.MODEL_FILE',
                                           f'{launcher.out}/absent.pth'))
    assert line == f'error: TEST.MODEL_FILE {launcher.out}/absent.pth not found (relative ' \
        "paths start at the repository root): training starts from its weights, as the " \
        "reference's training script does"


def test_detection_file_is_needed_only_for_detection_boxes(launcher, coco_layout_root):
    """The shipped configs evaluate on ground-truth boxes (as the reference YAMLs): their
    detection file (absent here) is asked for only with TEST.USE_GT_BBOX false."""
    args = ('train_full_8p', f'--data_path={coco_layout_root}', '--nproc', '2', '--device',
            'cpu', 'TRAIN.INIT_CHECKPOINT', f'{launcher.out}/init.pth')
    line = _single_error_line(launcher.run(*args))
    assert 'TRAIN.INIT_CHECKPOINT' in line and 'COCO_BBOX_FILE' not in line
    line = _single_error_line(launcher.run(*args, 'TEST.USE_GT_BBOX', 'false'))
    assert 'TEST.COCO_BBOX_FILE data/coco/person_detection_results/' in line


def test_bad_amp_and_baseline_values(launcher, tmp_path):
    for option in ('--amp', '--baseline'):
        line = _single_error_line(launcher.run('train_full_1p', f'--data_path={tmp_path}',
                                               option, '2'))
        assert f'{option} must be 0 or 1' in line


# ---- real runs -----------------------------------------------------------------------------
@pytest.mark.slow
def test_performance_1p(launcher, data_root):
    """The HRNet baseline switch, the Ascend FPS (mean of the logged speeds without the first
    step), fp32 on CPU, --workers."""
    cache = launcher.out / 'image_cache'
    assert cache_images_main(['--cfg', TINY, '--data_path', str(data_root), '--out', str(cache),
                              '--splits', 'train']) == 0
    proc = launcher.run('train_performance_1p', f'--data_path={data_root}', '--cfg', TINY,
                        '--device', 'cpu', '--perf_steps', '6', '--baseline', '1',
                        '--workers', '0', '--image_cache', str(cache), *launcher.tiny_opts())
    assert proc.returncode == 0, proc.output
    fps = final_value(proc.stdout, 'Final Performance images/sec :')
    assert isinstance(fps, float) and fps > 0, proc.stdout
    assert isinstance(final_value(proc.stdout, 'E2E Training Duration sec :'), float)
    assert 'Final Train Accuracy' not in proc.stdout
    assert 'Performance mode:' in proc.stdout
    assert 'Model : pose_hrnet (tiny_mipnet.yaml, AMP 0)' in proc.stdout
    run = 'world size 1, batch 4 per device x 1 = 4 global (TRAIN.BATCH_SIZE_PER_GPU), ' \
        'LR 0.002, precision fp32'
    assert f'run: {run}, 6 steps (performance mode)' in proc.stdout
    assert f'Run : {run}' in proc.stdout
    assert 'FPS unit : person boxes per second over all devices' in proc.stdout
    log = (launcher.logs / '0' / 'train_0.log').read_text()
    speeds = [float(line.split('Speed ')[1].split()[0]) for line in log.splitlines()
              if 'Epoch: [' in line and 'Speed ' in line]
    assert len(speeds) == 6  # PRINT_FREQ 1: every step logged
    assert fps == pytest.approx(sum(speeds[1:]) / 5, abs=0.01)
    assert ' TRAIN.AMP False ' in log and '--workers 0' in log
    assert f'DATASET.IMAGE_CACHE {cache}' in log and 'read from the image cache' in log

    case = launcher.case_log('HRNet_bs4_1p_perf')
    assert case['CaseName'] == 'HRNet_bs4_1p_perf' and case['Model'] == 'pose_hrnet'
    assert case['RankSize'] == '1' and case['BatchSize'] == '4' and case['Device'] == 'cpu'
    assert case['Network'].startswith('MIPNet_ID')
    assert float(case['ActualFPS']) == fps
    assert float(case['TrainingTime']) > 0 and float(case['ActualLoss']) > 0
    assert int(case['E2ETrainingTime']) >= 0
    assert 'Epoch: [0][0/' in log and '--max_steps 6 ' in log and ' AUTO_RESUME False ' in log
    run_dir = launcher.out / 'output' / 'synthetic' / 'pose_hrnet' / 'tiny_mipnet'
    # Performance runs leave the weights of full runs alone: no final_state.pth.
    assert run_dir.is_dir() and not (run_dir / 'final_state.pth').exists()


@pytest.mark.slow
def test_full_8p_two_cpu_processes(launcher, coco_layout_root):
    """torchrun with 2 gloo processes on the documented train2017/val2017 layout, validated
    on person detections that the launcher finds under --data_path (as the reference
    configs' data/coco/person_detection_results/<file>). The config's global batch is split
    over the 2 ranks (7 does not divide: 4 per device, 8 per step, and a note says so);
    --epochs sets the epochs."""
    proc = launcher.run('train_full_8p', f'--data_path={coco_layout_root}', '--cfg', TINY,
                        '--nproc', '2', '--device', 'cpu', '--epochs', '1',
                        'DATASET.TRAIN_SET', 'train2017',
                        'DATASET.TEST_SET', 'val2017', 'TEST.USE_GT_BBOX', 'False',
                        'TEST.COCO_BBOX_FILE', f'data/coco/person_detection_results/{DETECTIONS}',
                        'TRAIN.GLOBAL_BATCH_SIZE', '7',
                        *launcher.tiny_opts(batch=False, epochs=False))
    assert proc.returncode == 0, proc.output
    run = 'world size 2, batch 4 per device x 2 = 8 global (TRAIN.GLOBAL_BATCH_SIZE 7), ' \
        'LR 0.002, precision fp32'
    lines = proc.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith('train_full_8p: device'))
    assert lines[first + 1] == f'run: {run}, epochs 1', lines[:first + 3]
    assert lines[first + 2] == 'note: TRAIN.GLOBAL_BATCH_SIZE 7 does not divide over 2 ' \
        'processes: 4 boxes per device, 8 per step (pass TRAIN.BATCH_SIZE_PER_GPU to choose ' \
        'the per-device batch instead)'
    assert f'run: {run}' in proc.stdout.split('command:', 1)[1]    # the engine's own line
    assert f'Run : {run}' in proc.stdout                             # the summary
    detections = coco_layout_root / 'person_detection_results' / DETECTIONS
    assert f'note: adding TEST.COCO_BBOX_FILE {detections}' in proc.stdout
    assert f'detections from {detections}' in proc.stdout
    assert 'torch.distributed.run' in proc.stdout and '--nproc_per_node=2' in proc.stdout
    assert 'world size: 2' in proc.stdout
    fps = final_value(proc.stdout, 'Final Performance images/sec :')
    assert isinstance(fps, float) and fps > 0, proc.stdout
    ap = final_value(proc.stdout, 'Final Train Accuracy :')
    assert isinstance(ap, float) and 0 <= ap <= 1, proc.stdout
    assert isinstance(final_value(proc.stdout, 'E2E Training Duration sec :'), float)
    case = launcher.case_log('MIPNet_bs4_2p_acc')
    assert case['RankSize'] == '2' and float(case['TrainAccuracy']) == ap
    assert (case['BatchSize'], case['GlobalBatchSize']) == ('4', '8')
    assert (case['LR'], case['Precision']) == ('0.002', 'fp32')
    assert launcher.leftover_processes() == ''


@pytest.mark.slow
def test_finetune_1p_five_epochs_from_an_ascend_checkpoint(launcher, data_root):
    """train_finetune_1p.sh trains 5 epochs by default, starting from the weights of an
    HRNet checkpoint as the Ascend port saves it (DataParallel prefixes, optimizer, epoch);
    the log says what was loaded and that the λ blocks were left initialised."""
    from mipnet.config import load_config
    from mipnet.models import build_model
    model = build_model(load_config(TINY, ['MODEL.NAME', 'pose_hrnet']))
    ascend = launcher.out / 'ascend_hrnet.pth'
    ascend.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'epoch': 140, 'model': 'pose_hrnet', 'perf': 0.0,
                'state_dict': {'module.' + k: v for k, v in model.state_dict().items()},
                'optimizer': torch.optim.Adam(model.parameters()).state_dict()}, ascend)
    proc = launcher.run('train_finetune_1p', f'--data_path={data_root}', '--cfg', TINY,
                        '--device', 'cpu', f'--pth_path={ascend}',
                        *launcher.tiny_opts('PRINT_FREQ', '100', 'EPOCH_EVAL_FREQ', '0',
                                            epochs=False))
    assert proc.returncode == 0, proc.output
    assert 'run: world size 1, batch 4 per device x 1 = 4 global (TRAIN.BATCH_SIZE_PER_GPU), ' \
        'LR 0.002, precision fp32, epochs 5' in proc.stdout
    assert f'TRAIN.INIT_CHECKPOINT {ascend}' in proc.stdout
    mipnet = build_model(load_config(TINY)).state_dict()
    total, loaded = len(mipnet), len(model.state_dict())
    blocks = ', '.join(sorted({k.split('.', 1)[0] for k in mipnet if k not in model.state_dict()}))
    assert blocks.startswith('stage') and '_se' in blocks
    assert f"=> initialised from {ascend}: loaded {loaded} of the model's {total} tensors; " \
        f'left {total - loaded} tensors of {blocks} initialised (λ blocks)' in proc.stdout
    log = (launcher.logs / '0' / 'train_0.log').read_text()
    assert 'Epoch: [4][' in log and 'Epoch: [5][' not in log
    assert isinstance(final_value(proc.stdout, 'Final Train Accuracy :'), float)


@pytest.mark.slow
def test_8p_on_cpu_caps_the_ranks_at_the_cores(launcher, data_root):
    """--nproc 8 on a CPU with one usable core (taskset) starts one rank and says so."""
    if shutil.which('taskset') is None:
        pytest.skip('taskset (util-linux) is not installed')
    proc = launcher.run('train_performance_8p', f'--data_path={data_root}', '--cfg', TINY,
                        '--device', 'cpu', '--perf_steps', '2', *launcher.tiny_opts(),
                        prefix=('taskset', '-c', '0'))
    assert proc.returncode == 0, proc.output
    assert 'note: --nproc 8 capped to 1, the CPU cores available here' in proc.stdout
    assert '--nproc_per_node=1' in proc.stdout and 'world size: 1' in proc.stdout
    assert launcher.case_log('MIPNet_bs4_1p_perf')['RankSize'] == '1'


def _wait_no_leftovers(launcher, seconds=10):
    deadline = time.monotonic() + seconds
    while launcher.leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    return launcher.leftover_processes()


@pytest.mark.slow
def test_failing_rank_stops_the_run(launcher, data_root, tmp_path):
    """Rank 1 dies at start-up (a sitecustomize hook): torchrun tears rank 0 down, the
    launcher exits non-zero, shows the failing rank's last lines and leaves no process."""
    hook = tmp_path / 'hook'
    hook.mkdir()
    (hook / 'sitecustomize.py').write_text(
        'import os, sys\n'
        "if os.environ.get('MIPNET_TEST_FAIL_RANK') == os.environ.get('RANK', '-'):\n"
        "    sys.stderr.write('injected failure on rank %s\\n' % os.environ['RANK'])\n"
        '    sys.stderr.flush()\n'
        '    os._exit(3)\n')
    env = launcher.env(MIPNET_TEST_FAIL_RANK='1',
                       PYTHONPATH=os.pathsep.join(filter(None, [str(hook),
                                                                os.environ.get('PYTHONPATH')])))
    proc = launcher.run('train_performance_8p', f'--data_path={data_root}', '--cfg', TINY,
                        '--nproc', '2', '--device', 'cpu', *launcher.tiny_opts(), env=env)
    assert proc.returncode != 0, proc.output
    assert 'Final Performance' not in proc.stdout
    assert 'error: train_performance_8p.sh failed' in proc.stderr
    assert 'rank 1 (local rank 1, exit code 3)' in proc.stderr, proc.stderr
    assert 'injected failure on rank 1' in proc.stderr
    assert _wait_no_leftovers(launcher) == ''


@pytest.mark.slow
def test_engine_error_is_reported(launcher, data_root):
    """An error raised by the engine itself (a --pth_path whose weights do not fit the
    model): status 1, the engine's `error:` line in the printed log tail, the failure last."""
    bad = launcher.out / 'other_model.pth'
    bad.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': {'other.weight': torch.zeros(3)}}, bad)
    proc = launcher.run('train_finetune_1p', f'--data_path={data_root}', '--cfg', TINY,
                        '--device', 'cpu', f'--pth_path={bad}', *launcher.tiny_opts())
    assert proc.returncode == 1, proc.output
    tail = proc.stderr.split(f'last 40 lines of {launcher.logs}/0/train_0.log', 1)[1]
    assert f'error: cannot initialise the model from {bad}: unknown keys: other.weight' in tail, \
        proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == \
        'error: train_finetune_1p.sh failed (exit status 1)'
    assert _wait_no_leftovers(launcher) == ''


@pytest.mark.slow
def test_eval_8p_two_cpu_processes(launcher, data_root):
    """eval_8p.sh evaluates --pth_path with 2 torchrun processes and prints the AP of every
    instance and of the merged instances."""
    from mipnet.config import load_config
    from mipnet.models import build_model
    weights = launcher.out / 'weights.pth'
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_model(load_config(TINY)).state_dict(), weights)
    proc = launcher.run('eval_8p', f'--data_path={data_root}', '--cfg', TINY, '--nproc', '2',
                        '--device', 'cpu', f'--pth_path={weights}', *launcher.tiny_opts())
    assert proc.returncode == 0, proc.output
    for mode in ('merged', 'instance 0', 'instance 1'):
        ap = final_value(proc.stdout, f'Final Accuracy ({mode}) AP :')
        assert isinstance(ap, float) and 0 <= ap <= 1, proc.stdout
    assert (launcher.logs / '0' / 'eval_0.log').is_file()
    assert launcher.leftover_processes() == ''


@pytest.mark.slow
def test_sigterm_stops_every_rank(launcher, data_root):
    """SIGTERM to the launcher mid-training stops torchrun and both ranks: exit 143, no
    process of the run left."""
    import subprocess
    from tests.conftest import REPO
    log = launcher.logs / '0' / 'train_0.log'
    proc = subprocess.Popen(
        ['bash', str(REPO / 'test' / 'train_full_8p.sh'), f'--data_path={data_root}', '--cfg',
         TINY, '--nproc', '2', '--device', 'cpu',
         *launcher.tiny_opts('TRAIN.END_EPOCH', '1000')],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=launcher.env())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if log.is_file() and 'Epoch: [0]' in log.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out + err
    assert 'interrupted by SIGTERM' in err
    assert _wait_no_leftovers(launcher) == ''


@pytest.mark.cuda
def test_performance_1p_cuda_fps_line(launcher, data_root):
    """The launcher's speed line on a CUDA GPU (AMP float16, channels_last)."""
    proc = launcher.run('train_performance_1p', f'--data_path={data_root}', '--cfg', TINY,
                        '--device', 'cuda', '--perf_steps', '6', *launcher.tiny_opts(),
                        'TRAIN.AMP', 'True', 'MODEL.CHANNELS_LAST', 'True')
    assert proc.returncode == 0, proc.output
    fps = final_value(proc.stdout, 'Final Performance images/sec :')
    assert isinstance(fps, float) and fps > 0, proc.stdout
    case = launcher.case_log('MIPNet_bs4_1p_perf')
    assert case['Device'] == 'cuda' and float(case['ActualFPS']) == fps
