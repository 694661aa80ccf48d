"""The non-finite loss guard: stop at once without a GradScaler; with one (float16 AMP on
an accelerator) the scaler skips the step, and only a run of skipped steps stops training."""
import pytest
import torch

from mipnet.engine.train import MAX_SKIPPED_STEPS, NonFiniteLossError, Trainer


def _trainer(tmp_path, scaler_enabled):
    trainer = Trainer.__new__(Trainer)
    trainer.scaler = torch.amp.GradScaler('cpu', enabled=scaler_enabled)
    trainer.skipped_steps = 0
    trainer.output_dir = str(tmp_path)
    return trainer


def test_without_scaler_stops_at_the_first_nan(tmp_path):
    trainer = _trainer(tmp_path, False)
    trainer._check_finite(torch.tensor(1.0), 0, 0)
    with pytest.raises(NonFiniteLossError, match=r'at epoch 3, step 7.*Last good checkpoint: none yet'):
        trainer._check_finite(torch.tensor(float('nan')), 3, 7)


def test_with_scaler_skips_until_a_run_of_nans(tmp_path):
    trainer = _trainer(tmp_path, True)
    (tmp_path / 'checkpoint.pth').write_bytes(b'x')
    for step in range(MAX_SKIPPED_STEPS - 1):
        trainer._check_finite(torch.tensor(float('inf')), 1, step)
    trainer._check_finite(torch.tensor(0.5), 1, 50)       # a good step resets the count
    for step in range(MAX_SKIPPED_STEPS - 1):
        trainer._check_finite(torch.tensor(float('nan')), 1, 100 + step)
    with pytest.raises(NonFiniteLossError, match=rf'\({MAX_SKIPPED_STEPS} steps in a row\).*'
                                                 rf'checkpoint: {tmp_path}/checkpoint.pth'):
        trainer._check_finite(torch.tensor(float('nan')), 1, 200)
