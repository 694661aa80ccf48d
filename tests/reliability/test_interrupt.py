"""Ctrl-C (SIGINT) during training (issue 27, item 9): one line saying where the last
checkpoint is and exit status 130, as the launchers report a signal; no KeyboardInterrupt
traceback, and the run resumes from that checkpoint."""
import os
import signal

from ._helpers import (TINY, WRAPPER, child_env, coco_opts, kill, run_dir, run_in_process,
                       start, wait_for)


def _args(out_dir):
    return ['--cfg', TINY, *coco_opts(out_dir), 'TRAIN.END_EPOCH', 2, 'EPOCH_EVAL_FREQ', 100]


def test_ctrl_c_names_the_last_checkpoint_and_exits_130(tmp_path):
    marker, log = tmp_path / 'paused', tmp_path / 'train.log'
    proc = start([WRAPPER, 'train', *_args(tmp_path)],
                 child_env(MIPNET_FAULT_PAUSE_AFTER_EPOCH=0, MIPNET_FAULT_MARKER=marker), log)
    try:
        wait_for(marker, proc, log=log)        # epoch 0 saved, epoch 1 not started
        os.kill(proc.pid, signal.SIGINT)       # what a terminal's Ctrl-C sends
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            kill(proc)
    text = log.read_text()
    checkpoint = run_dir(tmp_path) / 'checkpoint.pth'
    assert 'Traceback' not in text and 'KeyboardInterrupt' not in text, text[-3000:]
    errors = [line for line in text.splitlines() if line.startswith('error:')]
    assert errors == [f'error: training interrupted (Ctrl-C); the last checkpoint is '
                      f'{checkpoint}: resume from it with AUTO_RESUME True (or --check_point '
                      f'{checkpoint})'], text[-3000:]
    # The run folder is free again (its lock released) and the run resumes (one step is
    # enough to show it).
    result = run_in_process('train', [*_args(tmp_path), 'AUTO_RESUME', 'True',
                                      'TRAIN.MAX_STEPS', 1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'resumed from {checkpoint} at epoch 1' in result.stdout
