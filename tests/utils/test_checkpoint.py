import hashlib
import os
import pickle

import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model
from mipnet.utils.checkpoint import (CheckpointError, file_sha256, load_file, load_model_weights,
                                     load_state_dict_file, save_atomic, verify_sha256)


@pytest.fixture
def model(tiny_cfg_file):
    return build_model(load_config(tiny_cfg_file))


@pytest.mark.parametrize('wrap', ['raw', 'state_dict', 'best_state_dict', 'latest_state_dict', 'ddp'])
def test_load_wrapped_and_prefixed(model, tmp_path, wrap):
    state = {k: v + 1 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    obj = {'module.' + k: v for k, v in state.items()} if wrap == 'ddp' else \
        state if wrap == 'raw' else {wrap: state, 'epoch': 3}
    path = tmp_path / 'ckpt.pth'
    torch.save(obj, path)
    load_model_weights(model, str(path))
    torch.testing.assert_close(model.conv1.weight, state['conv1.weight'])


def test_mismatch_lists_keys_and_shapes(model, tiny_cfg_file, tmp_path):
    other = build_model(load_config(tiny_cfg_file, ['MODEL.NUM_JOINTS', '14']))
    path = tmp_path / 'crowdpose.pth'
    torch.save(other.state_dict(), path)
    with pytest.raises(CheckpointError, match=r'final_layer.weight: checkpoint \(14, 8, 1, 1\) vs model \(17, 8, 1, 1\)'):
        load_model_weights(model, str(path))
    hrnet = build_model(load_config(tiny_cfg_file, ['MODEL.NAME', 'pose_hrnet']))
    torch.save(hrnet.state_dict(), path)
    with pytest.raises(CheckpointError, match='missing keys: stage3_se'):
        load_model_weights(model, str(path))


def test_missing_truncated_and_non_state_dict(tmp_path, model):
    with pytest.raises(CheckpointError, match='not found'):
        load_file(str(tmp_path / 'none.pth'))
    path = tmp_path / 'ckpt.pth'
    torch.save(model.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        load_state_dict_file(str(path))
    path.write_bytes(b'')
    with pytest.raises(CheckpointError, match='empty'):
        load_file(str(path))
    torch.save({'epoch': 3}, path)
    with pytest.raises(CheckpointError, match='does not contain a model state_dict'):
        load_state_dict_file(str(path))


class _Evil:
    def __reduce__(self):
        return (os.system, ('touch PWNED_MARKER',))


def test_malicious_pickle_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'payload': _Evil()}, path)
    with pytest.raises(CheckpointError, match='refusing to unpickle'):
        load_file(str(path))
    assert not (tmp_path / 'PWNED_MARKER').exists()
    raw = tmp_path / 'raw.pkl'
    raw.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(CheckpointError):
        load_file(str(raw))
    assert not (tmp_path / 'PWNED_MARKER').exists()


def test_save_atomic_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / 'sub' / 'checkpoint.pth'
    save_atomic({'a': torch.ones(2)}, str(path))
    save_atomic({'a': torch.zeros(2)}, str(path))
    assert torch.equal(load_file(str(path))['a'], torch.zeros(2))
    assert os.listdir(path.parent) == ['checkpoint.pth']


def test_garbage_file_is_a_checkpoint_error(tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_text('this is not a checkpoint')
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        load_file(str(path))


def test_write_failure_names_the_os_error_in_the_chain(tmp_path, monkeypatch):
    """torch's serializer wraps ENOSPC in a RuntimeError; the message names the cause and the
    old file stays."""
    import mipnet.utils.checkpoint as checkpoint
    from mipnet.utils.checkpoint import CheckpointWriteError
    path = tmp_path / 'c.pth'
    save_atomic({'a': torch.ones(3)}, str(path))
    real = checkpoint.tempfile.mkstemp
    monkeypatch.setattr(checkpoint.tempfile, 'mkstemp', lambda **kw: (
        os.open('/dev/full', os.O_WRONLY), str(tmp_path / 'gone.tmp')))
    with pytest.raises(CheckpointWriteError, match=f'cannot write checkpoint {path}: No space '
                                                   r'left on device \(ENOSPC\)'):
        save_atomic({'a': torch.zeros(1 << 16)}, str(path))
    monkeypatch.setattr(checkpoint.tempfile, 'mkstemp', real)
    assert torch.equal(load_file(str(path))['a'], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ['c.pth']


def test_reconcile_best(tmp_path, model):
    from mipnet.utils.checkpoint import reconcile_best, state_dict_digest
    weights = model.state_dict()
    older = {k: v + 1 if v.is_floating_point() else v for k, v in weights.items()}
    best = tmp_path / 'model_best.pth'
    state = {'epoch': 3, 'state_dict': weights, 'best_epoch': 3,
             'best_digest': state_dict_digest(weights)}
    assert reconcile_best({'epoch': 3, 'state_dict': weights}, str(best)) is None
    assert reconcile_best(state, str(best)) == 'restored'          # missing -> written
    assert reconcile_best(state, str(best)) == 'ok'
    save_atomic(older, str(best))                                   # killed before the save
    assert reconcile_best(state, str(best)) == 'restored'
    assert state_dict_digest(load_state_dict_file(str(best))) == state['best_digest']
    save_atomic(older, str(best))
    # The best is an earlier epoch's: the checkpoint cannot restore it.
    assert reconcile_best(dict(state, best_epoch=2), str(best)) == 'lost'
    assert state_dict_digest(load_state_dict_file(str(best))) == state_dict_digest(older)
def test_sha256_beside_the_checkpoint_is_checked(model, tmp_path):
    path = tmp_path / 'shipped.pth'
    torch.save(model.state_dict(), path)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert verify_sha256(str(path)) is False          # no digest file: nothing to check
    digest = tmp_path / 'shipped.pth.sha256'
    digest.write_text(f'{file_sha256(path)}  shipped.pth\n')
    assert verify_sha256(str(path)) is True
    load_model_weights(model, str(path))
    with open(path, 'r+b') as f:                       # one flipped byte deep in a tensor
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CheckpointError, match=r'shipped.pth does not match its digest in .*'
                                              r'shipped.pth.sha256 .*git checkout -- '):
        load_model_weights(model, str(path))
    digest.write_text('not a digest\n')
    with pytest.raises(CheckpointError, match='does not start with a SHA-256 hex digest'):
        load_file(str(path))
