"""Performance mode (TRAIN.MAX_STEPS): counts the steps of this run, also after a resume,
skips validation and leaves the final weights of a full run alone."""
import hashlib
import re

from mipnet.cli.train_test import train_main
from tests.engine.conftest import TINY, tiny_opts


def test_perf_run_after_resume(synthetic_root, tmp_path):
    opts = tiny_opts(synthetic_root, tmp_path, 'TRAIN.END_EPOCH', '2', 'PRINT_FREQ', '1')
    train_main(['--cfg', TINY, *opts, 'TRAIN.END_EPOCH', '1'])
    run = tmp_path / 'output' / 'synthetic' / 'pose_hrnet_se_lambda' / 'tiny_mipnet'
    final = hashlib.sha256((run / 'final_state.pth').read_bytes()).hexdigest()
    # END_EPOCH differs from the checkpoint's run, so AUTO_RESUME would refuse: resume on purpose.
    summary = train_main(['--max_steps', '3', '--check_point', str(run / 'checkpoint.pth'),
                          '--cfg', TINY, *opts])
    log = open(summary['log_file']).read()
    assert 'RESUMING' in log and 'resumed from' in log and 'at epoch 1 (END_EPOCH 2' in log
    assert log.count('Epoch: [1][') == 3          # three steps of epoch 1, then stop
    assert 'Performance mode: 3 steps' in log
    assert summary['metrics'] is None             # no validation
    assert hashlib.sha256((run / 'final_state.pth').read_bytes()).hexdigest() == final


def test_perf_run_without_a_steady_step_says_so(synthetic_root, tmp_path):
    """Each epoch's first step (worker start-up) is left out of the speed: a dataset of one
    batch per epoch has no steady-state step, and the log says that instead of "nan"."""
    opts = tiny_opts(synthetic_root, tmp_path, 'TRAIN.END_EPOCH', '3',
                     'TRAIN.BATCH_SIZE_PER_GPU', '512')
    summary = train_main(['--max_steps', '2', '--cfg', TINY, *opts])
    log = open(summary['log_file']).read()
    assert 'Performance mode: 2 steps, no steady-state speed: every step was the first of ' \
           'its epoch' in log
    assert re.search(r'\bnan\b', log) is None
