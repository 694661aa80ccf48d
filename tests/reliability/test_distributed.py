"""Faults in a 2-process gloo run under torchrun (CPU): a rank that dies, a rank that hangs.

One scenario, three runs (to keep the time down): a rank that dies -- torchrun's agent sees
the worker exit, stops the other one and exits non-zero, the epoch-0 checkpoint is intact;
the restart resumes from it (AUTO_RESUME), then a rank hangs (alive, never reaching the next
collective) -- the other rank's collective fails after ``DIST_TIMEOUT`` seconds (the
process-group timeout, ``mipnet.utils.dist.setup``), it exits non-zero and torchrun stops
the hung one; without the timeout it would wait 30 minutes; a last restart finishes.
"""
import re
import time

import pytest

from mipnet.utils.checkpoint import load_file

from ._helpers import (TINY, WRAPPER, child_env, coco_opts, run, run_dir,
                       run_in_process)

pytestmark = pytest.mark.slow

TORCHRUN = ['-m', 'torch.distributed.run', '--nproc_per_node', 2, '--rdzv-backend', 'c10d',
            '--rdzv-endpoint', 'localhost:0', '--max-restarts', 0]
DIST_TIMEOUT = 10
BOUND = 60          # seconds for a whole faulty run, start-up of 3 processes included


def _torchrun(out_dir, *extra, timeout=BOUND, **faults):
    args = [*TORCHRUN, WRAPPER, 'train', '--cfg', TINY, *coco_opts(out_dir),
            'DIST_TIMEOUT', DIST_TIMEOUT, 'EPOCH_EVAL_FREQ', 100, *extra]
    start = time.monotonic()
    result = run(args, timeout=timeout, env=child_env(**faults))
    return result, time.monotonic() - start


def test_dead_rank_then_hung_rank_then_resume(tmp_path):
    folder = run_dir(tmp_path)
    ckpt = folder / 'checkpoint.pth'

    # 1. Rank 1 dies at the start of epoch 1: the run stops, non-zero, within the bound.
    result, elapsed = _torchrun(tmp_path, 'TRAIN.END_EPOCH', 3, MIPNET_FAULT_RANK_EXIT='1:1')
    assert result.returncode != 0, result.stdout[-2000:]
    assert re.search(r'rank\s*: 1 \(local_rank: 1\)\s*\n\s*exitcode\s*: 1 ', result.stderr), \
        result.stderr[-3000:]
    assert elapsed < BOUND
    assert load_file(str(ckpt))['epoch'] == 1 and not (folder / 'final_state.pth').exists()

    # 2. Restart with AUTO_RESUME: resumes at epoch 1; then rank 1 hangs at the start of
    # epoch 2 and rank 0 gives up after DIST_TIMEOUT instead of waiting 30 minutes.
    result, elapsed = _torchrun(tmp_path, 'TRAIN.END_EPOCH', 3, 'AUTO_RESUME', 'True',
                                MIPNET_FAULT_RANK_HANG='1:2')
    assert f'resumed from {ckpt} at epoch 1' in result.stdout, result.stdout[-2000:]
    assert 'Epoch: [0]' not in result.stdout and 'Epoch: [1]' in result.stdout
    assert result.returncode != 0
    # gloo words it "Timed out waiting 10000ms for ..." or "Application timeout caused pair
    # closure", depending on the collective that was waiting.
    assert re.search(r'\[rank0\]: RuntimeError: .*(Timed out waiting|timeout)', result.stderr), \
        result.stderr[-3000:]
    assert elapsed < BOUND
    assert load_file(str(ckpt))['epoch'] == 2 and not (folder / 'final_state.pth').exists()

    # 3. A restart on a single process (fewer workers are fine) finishes the run.
    result = run_in_process('train', ['--cfg', TINY, *coco_opts(tmp_path), 'TRAIN.END_EPOCH', 3,
                                      'AUTO_RESUME', 'True', 'EPOCH_EVAL_FREQ', 100])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'resumed from {ckpt} at epoch 2' in result.stdout
    assert load_file(str(ckpt))['epoch'] == 3 and (folder / 'final_state.pth').exists()
