"""A NaN loss stops training before the update, names epoch, step and the last good
checkpoint, and leaves that checkpoint intact. The NaN comes from the test-only
fault_wrapper.py (``MIPNET_FAULT_NAN``), installed in this process; the command line runs
in-process through the real entry point (``train_main``: exit status and stderr as a
subprocess would give them).

AMP: with ``TRAIN.AMP`` on CPU, autocast runs in bfloat16 and the GradScaler is disabled
(bfloat16 has float32's range, loss scaling is only for float16), so ``_check_finite``
checks the loss exactly as without AMP and training stops the same way. On CUDA / NPU with
AMP the GradScaler is enabled and ``_check_finite`` defers to it: a step whose loss or
gradients are non-finite is skipped (weights untouched) and the scale is lowered; that path
needs an accelerator and is not exercised here.
"""
import torch

from mipnet.utils.checkpoint import load_file

from . import fault_wrapper
from ._helpers import TINY, assert_one_error, coco_opts, run_dir, run_in_process


def _args(out_dir, *extra):
    return ['--cfg', TINY, *coco_opts(out_dir), 'TRAIN.END_EPOCH', 3,
            'EPOCH_EVAL_FREQ', 100, *extra]


def _assert_stopped_with_intact_checkpoint(result, out_dir):
    ckpt = run_dir(out_dir) / 'checkpoint.pth'
    line = assert_one_error(result, 'non-finite loss (nan) at epoch 1, step 2',
                            'stopped before the update', f'Last good checkpoint: {ckpt}')
    state = load_file(str(ckpt))
    assert state['epoch'] == 1                  # written after epoch 0, before the NaN
    for name, value in state['state_dict'].items():
        assert torch.isfinite(value.float()).all(), name
    for group in state['optimizer']['state'].values():
        assert all(torch.isfinite(v.float()).all() for v in group.values())
    assert not (run_dir(out_dir) / 'final_state.pth').exists()
    return line


def test_nan_loss_stops_training(tmp_path, monkeypatch):
    monkeypatch.setenv('MIPNET_FAULT_NAN', '1:2')
    fault_wrapper.install(monkeypatch.setattr)
    result = run_in_process('train', _args(tmp_path))
    _assert_stopped_with_intact_checkpoint(result, tmp_path)
    # the epoch-1 steps before the NaN ran normally
    assert 'Epoch: [1][0/3]' in result.stdout


def test_nan_loss_stops_training_with_amp_on_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv('MIPNET_FAULT_NAN', '1:2')
    fault_wrapper.install(monkeypatch.setattr)
    seen = {'output': set()}
    import mipnet.engine.train as train_mod
    real_check, real_loss = train_mod.Trainer._check_finite, train_mod.compute_loss

    def check(self, loss, epoch, step):
        seen['scaler'] = self.scaler.is_enabled()
        return real_check(self, loss, epoch, step)

    def compute_loss(*args, **kwargs):
        loss, output = real_loss(*args, **kwargs)
        seen['output'].add(output.dtype)
        return loss, output
    monkeypatch.setattr(train_mod.Trainer, '_check_finite', check)
    monkeypatch.setattr(train_mod, 'compute_loss', compute_loss)
    result = run_in_process('train', _args(tmp_path, 'TRAIN.AMP', 'True'))
    _assert_stopped_with_intact_checkpoint(result, tmp_path)
    assert seen['output'] == {torch.bfloat16}   # autocast really ran ...
    assert seen['scaler'] is False              # ... and without loss scaling on CPU
