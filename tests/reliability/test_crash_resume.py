"""SIGKILL at the worst moments: mid-checkpoint-write and between epochs.

Protections under test: ``save_atomic`` (temporary file + fsync + rename), ``AUTO_RESUME``,
and exact resume (per-epoch reseeding, sampler order from (SEED, epoch), optimizer /
scheduler / scaler state in the checkpoint).
"""
import json

import pytest
import torch

from mipnet.utils.checkpoint import load_file, load_state_dict_file

from ._helpers import (TINY, WRAPPER, child_env, coco_opts, kill, run_dir,
                       run_in_process, start, wait_for)

pytestmark = pytest.mark.slow

EPOCHS = 3


def _cli_args(out_dir, *extra):
    return ['--cfg', TINY, *coco_opts(out_dir), 'TRAIN.END_EPOCH', EPOCHS,
            'DETERMINISTIC', 'True', *extra]


def _start_killable(out_dir, log, **faults):
    """The run to be killed: a subprocess with a pause point (see fault_wrapper.py)."""
    return start([WRAPPER, 'train', *_cli_args(out_dir)], child_env(**faults), log)


def _finish(out_dir):
    """Restart with AUTO_RESUME (in this process: same code, no second torch import); it
    must resume, finish and exit 0."""
    result = run_in_process('train', _cli_args(out_dir, 'AUTO_RESUME', 'True'))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _results(folder):
    return {p.name: json.loads(p.read_text()) for p in sorted((folder / 'results').glob('*.json'))}


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """An uninterrupted 3-epoch run."""
    out = tmp_path_factory.mktemp('reference')
    result = run_in_process('train', _cli_args(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir(out)


def _assert_same_run(folder, reference):
    final = load_state_dict_file(str(folder / 'final_state.pth'))
    ref = load_state_dict_file(str(reference / 'final_state.pth'))
    assert final.keys() == ref.keys()
    diff = max((final[k].double() - ref[k].double()).abs().max().item()
               for k in ref if ref[k].numel())
    assert diff <= 1e-6, f'resumed weights differ from the uninterrupted run by {diff}'
    ckpt = load_file(str(folder / 'checkpoint.pth'))
    ref_ckpt = load_file(str(reference / 'checkpoint.pth'))
    assert ckpt['epoch'] == ref_ckpt['epoch'] == EPOCHS
    # The training state continues too: the LR schedule (a later milestone would otherwise
    # fire at the wrong epoch), Adam's moments and step counts, the loss scaler.
    assert ckpt['scheduler'] == ref_ckpt['scheduler']
    assert ckpt['scaler'] == ref_ckpt['scaler']
    assert ckpt['optimizer']['param_groups'] == ref_ckpt['optimizer']['param_groups']
    for key, state in ref_ckpt['optimizer']['state'].items():
        for name, value in state.items():
            diff = (ckpt['optimizer']['state'][key][name].double() - value.double()).abs()
            assert diff.max().item() <= 1e-6, (key, name)
    # Validation AP of every epoch (and the best) and the predicted keypoints are identical.
    assert torch.equal(ckpt['history'], ref_ckpt['history'])
    assert ckpt['perf'] == ref_ckpt['perf']
    assert _results(folder) == _results(reference) != {}


def test_sigkill_while_saving_keeps_previous_checkpoint(tmp_path):
    marker = tmp_path / 'paused'
    log = tmp_path / 'killed.log'
    args = ['--cfg', TINY, *coco_opts(tmp_path), 'TRAIN.END_EPOCH', 2, 'EPOCH_EVAL_FREQ', 100]
    proc = start([WRAPPER, 'train', *args], child_env(MIPNET_FAULT_SAVE_PAUSE_EPOCH=1,
                                                      MIPNET_FAULT_MARKER=marker), log)
    wait_for(marker, proc, log=log)       # half of epoch 1's checkpoint is on disk
    kill(proc)
    folder = run_dir(tmp_path)
    state = load_file(str(folder / 'checkpoint.pth'))     # still the complete epoch-0 one
    assert state['epoch'] == 1
    assert all(torch.isfinite(v).all() for v in state['state_dict'].values()
               if v.is_floating_point())
    # The killed write left its partial temporary file.
    partial = [p for p in folder.glob('.checkpoint.pth.*.tmp') if p.stat().st_size > 0]
    assert partial, 'the fault did not write a partial file'

    result = run_in_process('train', [*args, 'AUTO_RESUME', 'True'])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'resumed from {folder / "checkpoint.pth"} at epoch 1' in result.stdout
    # ... and removed the partial file (a full checkpoint's worth of disk per crash).
    assert f'removed {partial[0]}, a partial checkpoint' in result.stdout
    assert not list(folder.glob('.*.tmp'))
    assert load_file(str(folder / 'checkpoint.pth'))['epoch'] == 2
    assert (folder / 'final_state.pth').exists()


def test_exact_resume_after_sigkill_between_epochs(tmp_path, reference):
    marker = tmp_path / 'paused'
    log = tmp_path / 'killed.log'
    proc = _start_killable(tmp_path, log, MIPNET_FAULT_PAUSE_AFTER_EPOCH=1,
                           MIPNET_FAULT_MARKER=marker)
    wait_for(marker, proc, log=log)       # epoch 1 saved, epoch 2 not started
    kill(proc)
    folder = run_dir(tmp_path)
    assert load_file(str(folder / 'checkpoint.pth'))['epoch'] == 2
    assert not (folder / 'final_state.pth').exists()

    result = _finish(tmp_path)
    assert 'at epoch 2' in result.stdout and 'Epoch: [0]' not in result.stdout
    _assert_same_run(folder, reference)
