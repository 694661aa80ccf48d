"""Preflight checks (mipnet.engine.preflight): resume settings, inexact-resume reasons, the
run lock and the checkpoint size estimate."""
import os

import pytest
import torch

from mipnet.config import load_config
from mipnet.engine import preflight
from mipnet.engine.preflight import PreflightError, RunLock
from mipnet.engine.optim import build_optimizer
from mipnet.models import build_model
from mipnet.utils.checkpoint import CheckpointError
from tests.engine.conftest import TINY


def _state(optimizer, *opts):
    cfg = load_config(TINY, ['TRAIN.OPTIMIZER', optimizer, *opts])
    model = build_model(cfg)
    opt = build_optimizer(cfg, model, torch.device('cpu'))
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.TRAIN.LR_STEP),
                                                 cfg.TRAIN.LR_FACTOR)
    return {'optimizer': opt.state_dict(), 'scheduler': sched.state_dict(),
            'config': cfg.dump()}


@pytest.mark.parametrize('saved,wanted', [('adam', 'sgd'), ('sgd', 'adam'), ('adam', 'adamw'),
                                          ('adamw', 'adam')])
def test_optimizer_mismatch_with_and_without_recorded_config(saved, wanted):
    state = _state(saved)
    cfg = load_config(TINY, ['TRAIN.OPTIMIZER', wanted])
    with pytest.raises(CheckpointError, match=f'trained with TRAIN.OPTIMIZER {saved}, this '
                                              f'config says {wanted}'):
        preflight.check_resume(cfg, state, 'ckpt.pth')
    del state['config']          # told apart by the optimizer state's layout
    with pytest.raises(CheckpointError, match=f'TRAIN.OPTIMIZER {saved},'):
        preflight.check_resume(cfg, state, 'ckpt.pth')


def test_same_settings_resume_quietly_changed_ones_are_named(caplog):
    state = _state('adam', 'TRAIN.LR_STEP', '[3, 5]')
    assert preflight.check_resume(load_config(TINY, ['TRAIN.LR_STEP', '[3, 5]']), state,
                                  'c.pth') == []
    cfg = load_config(TINY, ['TRAIN.LR', '0.0005', 'TRAIN.LR_STEP', '[4]',
                             'TRAIN.LR_FACTOR', '0.5'])
    assert preflight.check_resume(cfg, state, 'c.pth') == [
        'TRAIN.LR 0.0005 (checkpoint: 0.002)', 'TRAIN.LR_STEP [4] (checkpoint: [3, 5])',
        'TRAIN.LR_FACTOR 0.5 (checkpoint: 0.1)']
    assert 'the config values are NOT used' in caplog.text


def test_inexact_resume_reasons():
    def reasons(device, *opts):
        return preflight.inexact_resume_reasons(load_config(TINY, list(opts)), device)
    assert reasons('cpu', 'WORKERS', '0') == []
    assert reasons('cpu', 'WORKERS', '2', 'DETERMINISTIC', 'True') == []
    assert reasons('cuda', 'WORKERS', '0', 'DETERMINISTIC', 'True') == []
    assert [r.split(' ')[0] for r in reasons('cuda', 'WORKERS', '2')] == ['WORKERS',
                                                                         'DETERMINISTIC']


def test_run_lock_is_exclusive_and_released(tmp_path):
    first = RunLock(str(tmp_path)).acquire()
    assert (tmp_path / preflight.LOCK_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(PreflightError, match=f'another run \\(PID {os.getpid()}\\) is using '
                                             f'{tmp_path}'):
        RunLock(str(tmp_path)).acquire()
    preflight.release_locks()
    RunLock(str(tmp_path)).acquire().release()
    first.release()       # idempotent


def test_checkpoint_bytes_matches_a_real_checkpoint(tmp_path):
    cfg = load_config(TINY)
    model = build_model(cfg)
    opt = build_optimizer(cfg, model, torch.device('cpu'))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()                   # Adam's two moment buffers exist now
    torch.save({'state_dict': model.state_dict(), 'optimizer': opt.state_dict()},
               tmp_path / 'c.pth')
    torch.save(model.state_dict(), tmp_path / 'best.pth')
    actual = sum(os.path.getsize(tmp_path / n) for n in ('c.pth', 'best.pth'))
    estimate = preflight.checkpoint_bytes(model, 'adam')
    assert actual <= estimate <= actual * 1.5 + (1 << 20)


def test_writable_dir_errors(tmp_path):
    afile = tmp_path / 'f'
    afile.write_text('')
    with pytest.raises(PreflightError, match=f'run folder {afile} is a file'):
        preflight.check_writable_dir(str(afile), 'run folder')
    with pytest.raises(PreflightError, match='cannot write to run folder .*Not a directory'):
        preflight.check_writable_dir(str(afile / 'below'), 'run folder')
    preflight.check_writable_dir(str(tmp_path / 'new' / 'deep'), 'run folder')
    assert (tmp_path / 'new' / 'deep').is_dir() and not os.listdir(tmp_path / 'new' / 'deep')
