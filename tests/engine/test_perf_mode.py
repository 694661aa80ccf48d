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
    """The first WARMUP_STEPS steps of a run are left out of the speed: a 4-step run has no
    steady-state step, and the log says why (not "nan", and not that every step was the
    first of its epoch: these 4 steps are all in one epoch)."""
    opts = tiny_opts(synthetic_root, tmp_path, 'TRAIN.END_EPOCH', '1',
                     'TRAIN.BATCH_SIZE_PER_GPU', '2')
    summary = train_main(['--max_steps', '4', '--cfg', TINY, *opts])
    log = open(summary['log_file']).read()
    assert log.count('Epoch: [0][') >= 1 and 'Epoch: [1][' not in log
    assert 'Performance mode: 4 steps, no steady-state speed: the first 5 steps of a run are ' \
           'warm-up and left out of the speed (give --max_steps 6 or more)' in log
    assert 'first of its epoch' not in log
    assert re.search(r'\bnan\b', log) is None
