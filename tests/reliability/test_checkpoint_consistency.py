"""Checkpoints that stay consistent and tell the truth (issue 17, items 3, 4, 5, 8):
model_best.pth agrees with checkpoint.pth after a SIGKILL between the two saves; flipped
bytes in tensor data are one error; a resume that cannot be exact says why; a resumed
checkpoint of another optimizer is one error and changed LR settings are named."""
import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model
from mipnet.utils.checkpoint import load_file, load_state_dict_file, state_dict_digest

from ._helpers import (TINY, WRAPPER, assert_one_error, child_env, coco_opts, kill,
                       run_dir, run_in_process, start, wait_for)


def _args(out_dir, epochs, *extra):
    return ['--cfg', TINY, *coco_opts(out_dir), 'TRAIN.END_EPOCH', epochs, *extra]


def _resume_args(out_dir, epochs, *extra):
    """An explicit resume (--check_point): AUTO_RESUME refuses a checkpoint of other run
    settings before these checks are reached."""
    return ['--cfg', TINY, '--check_point', str(run_dir(out_dir) / 'checkpoint.pth'),
            *coco_opts(out_dir), 'TRAIN.END_EPOCH', epochs, *extra]


@pytest.fixture(scope='module')
def one_epoch(tmp_path_factory):
    """A finished 1-epoch run (Adam, LR 0.002, LR_STEP of the tiny config)."""
    out = tmp_path_factory.mktemp('one_epoch')
    result = run_in_process('train', _args(out, 1, 'EPOCH_EVAL_FREQ', 100))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _copy_run(src_out, dst_out):
    import shutil
    shutil.copytree(run_dir(src_out), run_dir(dst_out))


# ------------------------------------------------------------------ item 3: best model
def test_sigkill_between_checkpoint_and_best_save(tmp_path):
    """Kill point: checkpoint.pth of epoch 1 written (AP improved or equal), model_best.pth
    not yet. The resumed run must not keep epoch-0 weights as 'best'."""
    marker, log = tmp_path / 'paused', tmp_path / 'killed.log'
    proc = start([WRAPPER, 'train', *_args(tmp_path, 2)],
                 child_env(MIPNET_FAULT_BEST_PAUSE_EPOCH=1, MIPNET_FAULT_MARKER=marker), log)
    wait_for(marker, proc, log=log)
    kill(proc)
    folder = run_dir(tmp_path)
    state = load_file(str(folder / 'checkpoint.pth'))
    assert state['epoch'] == 2 and state['best_epoch'] == 2
    stale = load_state_dict_file(str(folder / 'model_best.pth'))
    assert state_dict_digest(stale) != state['best_digest']       # epoch-0 weights on disk

    result = run_in_process('train', _args(tmp_path, 2, 'AUTO_RESUME', 'True'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'was older than the best model recorded' in result.stdout
    best = load_state_dict_file(str(folder / 'model_best.pth'))
    assert state_dict_digest(best) == state['best_digest']
    for name, value in state['state_dict'].items():
        assert torch.equal(best[name], value), name


def test_best_file_replaced_behind_the_runs_back_is_named(tmp_path, one_epoch):
    """A model_best.pth that is neither the recorded best nor the checkpoint's weights (an
    older checkpoint's best_epoch): the recorded best AP is not trusted any more."""
    _copy_run(one_epoch, tmp_path)
    folder = run_dir(tmp_path)
    state = load_file(str(folder / 'checkpoint.pth'))
    state.update(best_epoch=1, best_digest='0' * 64, epoch=1)
    torch.save(state, folder / 'checkpoint.pth')
    result = run_in_process('train', _args(tmp_path, 1, 'AUTO_RESUME', 'True'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'was older than the best model recorded' not in result.stdout
    assert 'is missing or is not the best model recorded' in result.stdout


# ------------------------------------------------------- item 5: integrity digests
def _flip_tensor_byte(path):
    import struct
    import zipfile
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if '/data/' in i.filename),
                   key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack('<HH', raw[info.header_offset + 26:
                                                   info.header_offset + 30])
    start_ = info.header_offset + 30 + name_len + extra_len
    raw[start_ + info.file_size // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def test_flipped_byte_in_tensor_data_is_one_error(tmp_path, one_epoch):
    _copy_run(one_epoch, tmp_path)
    folder = run_dir(tmp_path)
    best = folder / 'final_state.pth'
    _flip_tensor_byte(best)
    assert torch.load(best, weights_only=True)     # torch alone loads it silently
    result = run_in_process('test', ['--cfg', TINY, *coco_opts(tmp_path),
                                     'TEST.MODEL_FILE', best])
    assert_one_error(result, f'checkpoint {best} fails its integrity check', 'Bad CRC-32',
                     'corrupt')
    ckpt = folder / 'checkpoint.pth'
    _flip_tensor_byte(ckpt)
    result = run_in_process('train', _args(tmp_path, 2, 'AUTO_RESUME', 'True'))
    assert_one_error(result, f'checkpoint {ckpt} fails its integrity check')


def test_checkpoint_without_digest_still_loads(tmp_path, caplog):
    """Legacy-format files (old official HRNet weights) carry no CRC: they load, with an
    info line, and evaluate."""
    import logging
    path = tmp_path / 'legacy.pth'
    weights = build_model(load_config(TINY)).state_dict()
    torch.save(weights, path, _use_new_zipfile_serialization=False)
    with caplog.at_level(logging.INFO, logger='mipnet.utils.checkpoint'):
        loaded = load_state_dict_file(str(path))
    assert state_dict_digest(loaded) == state_dict_digest(weights)
    assert f'checkpoint {path} has no integrity digest (legacy format)' in caplog.text
    # Zip format saved with CRC-32 switched off: every CRC field is 0, nothing to verify.
    nocrc = tmp_path / 'nocrc.pth'
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(weights, nocrc)
    finally:
        torch.serialization.set_crc32_options(True)
    with caplog.at_level(logging.INFO, logger='mipnet.utils.checkpoint'):
        assert state_dict_digest(load_state_dict_file(str(nocrc))) == \
            state_dict_digest(weights)
    assert f'checkpoint {nocrc} was saved without CRC-32 digests' in caplog.text


# --------------------------------------------------------- item 4: exact resume or a word
def test_inexact_resume_is_named_exact_one_is_quiet(tmp_path, one_epoch):
    _copy_run(one_epoch, tmp_path)
    result = run_in_process('train', _args(tmp_path, 1, 'AUTO_RESUME', 'True', 'WORKERS', 2,
                                           'DETERMINISTIC', 'False'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'will not replay the uninterrupted run exactly: WORKERS 2 > 0 with ' \
           'DETERMINISTIC false' in result.stdout
    assert 'Set DETERMINISTIC true for an exact resume' in result.stdout
    for exact in (['WORKERS', 0], ['WORKERS', 2, 'DETERMINISTIC', 'True']):
        result = run_in_process('train', _args(tmp_path, 1, 'AUTO_RESUME', 'True', *exact))
        assert result.returncode == 0, result.stderr[-3000:]
        assert 'resumed from' in result.stdout and 'not replay' not in result.stdout


# ----------------------------------------------------------- item 8: resume settings
def test_resume_adam_checkpoint_with_sgd_is_one_error(tmp_path, one_epoch):
    _copy_run(one_epoch, tmp_path)
    ckpt = run_dir(tmp_path) / 'checkpoint.pth'
    result = run_in_process('train', _resume_args(tmp_path, 2, 'TRAIN.OPTIMIZER', 'sgd'))
    assert_one_error(result, f'checkpoint {ckpt} was trained with TRAIN.OPTIMIZER adam',
                     'this config says sgd', 'Resume with TRAIN.OPTIMIZER adam')
    # A checkpoint without its config (reference layout): told apart by its state layout.
    state = load_file(str(ckpt))
    del state['config']
    torch.save(state, ckpt)
    result = run_in_process('train', _resume_args(tmp_path, 2, 'TRAIN.OPTIMIZER', 'sgd'))
    assert_one_error(result, 'was trained with TRAIN.OPTIMIZER adam')


def test_resume_with_changed_lr_names_both_values(tmp_path, one_epoch):
    _copy_run(one_epoch, tmp_path)
    result = run_in_process('train', _resume_args(tmp_path, 1, 'TRAIN.LR', '0.01',
                                                  'TRAIN.LR_STEP', '[5]'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ('TRAIN.LR 0.01 (checkpoint: 0.002); TRAIN.LR_STEP [5] (checkpoint: '
            in result.stdout)
    assert 'the config values are NOT used' in result.stdout


@pytest.mark.parametrize('value', ['-1.0', '0.0'])
def test_non_positive_lr_is_one_config_error(tmp_path, value):
    result = run_in_process('train', _args(tmp_path, 1, 'TRAIN.LR', value))
    assert_one_error(result, f'TRAIN.LR = {float(value)} must be a finite number > 0')
