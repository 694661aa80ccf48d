"""Initialisation from an HRNet / MIPNet checkpoint (the reference MIPNet recipe)."""
import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model, init_from_checkpoint, is_lambda_block_key
from mipnet.utils.checkpoint import CheckpointError
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')


def _model(*opts):
    torch.manual_seed(0)
    return build_model(load_config(TINY, list(opts)), is_train=True)


def _perturbed(model):
    return {k: v + 0.5 if v.is_floating_point() else v for k, v in model.state_dict().items()}


def test_plain_hrnet_initialises_mipnet_and_lists_exactly_the_lambda_blocks(tmp_path):
    hrnet_state = _perturbed(_model('MODEL.NAME', 'pose_hrnet'))
    path = tmp_path / 'pose_hrnet.pth'
    # The reference's released HRNet files are plain state dicts; DataParallel prefixes too.
    torch.save({'module.' + k: v for k, v in hrnet_state.items()}, path)
    mipnet = _model()
    fresh = {k: v.clone() for k, v in mipnet.state_dict().items()}
    left = init_from_checkpoint(mipnet, str(path))
    lambda_keys = sorted(set(fresh) - set(hrnet_state))
    assert left == lambda_keys and left
    assert all(is_lambda_block_key(k) for k in left)
    assert {k.split('.', 1)[0] for k in left} == {'stage3_se', 'stage4_se'}
    state = mipnet.state_dict()
    for k, v in hrnet_state.items():
        assert torch.equal(state[k], v), k
    for k in left:
        assert torch.equal(state[k], fresh[k]), k


def test_mipnet_checkpoint_loads_everything(tmp_path):
    source = _perturbed(_model())
    path = tmp_path / 'mipnet.pth'
    torch.save({'state_dict': source, 'epoch': 3}, path)
    target = _model()
    assert init_from_checkpoint(target, str(path)) == []
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.items())


def test_shape_mismatch_and_unknown_keys_are_refused(tmp_path):
    path = tmp_path / 'crowdpose.pth'
    torch.save(_model('MODEL.NUM_JOINTS', '14').state_dict(), path)
    with pytest.raises(CheckpointError, match=r'shape mismatches: final_layer\.bias: checkpoint \(14,\) vs model \(17,\)'):
        init_from_checkpoint(_model(), str(path))
    state = _model('MODEL.NAME', 'pose_hrnet').state_dict()
    state['fc.weight'] = torch.zeros(1000, 4)  # an ImageNet classifier head
    torch.save(state, path)
    with pytest.raises(CheckpointError, match='unknown keys: fc.weight'):
        init_from_checkpoint(_model(), str(path))


def test_missing_backbone_tensors_are_refused(tmp_path):
    state = _model('MODEL.NAME', 'pose_hrnet').state_dict()
    del state['final_layer.weight']
    path = tmp_path / 'partial.pth'
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r'missing keys: final_layer\.weight'):
        init_from_checkpoint(_model(), str(path))
