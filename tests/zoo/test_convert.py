"""mmpose checkpoints (1.x and 0.x layouts, built from mmpose's naming rules) convert to this
port's HRNet keys: strict into pose_hrnet, and as an init checkpoint into MIPNet."""
import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model, init_from_checkpoint
from mipnet.utils.checkpoint import CheckpointError
from mipnet.zoo.convert import convert_file, convert_mmpose_state_dict, detect_layout
from tests.conftest import REPO
from tests.zoo._mmpose import mmpose_checkpoint, mmpose_hrnet_shapes, mmpose_state_dict
from tests.zoo.conftest import saved

W32 = str(REPO / 'experiments' / 'coco' / 'baseline' / 'w32_256x192_adam_lr1e-3.yaml')
W48_CROWDPOSE = str(REPO / 'experiments' / 'crowdpose' / 'baseline' /
                    'w48_384x288_adam_lr1e-3.yaml')
TINY_MIPNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
TINY_HRNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_hrnet.yaml')


@pytest.mark.parametrize('config', [W32, W48_CROWDPOSE], ids=['coco-w32', 'crowdpose-w48'])
@pytest.mark.parametrize('version', ['1.x', '0.x'])
def test_full_size_hrnet_keys_and_shapes_load_strictly(version, config):
    # The full-size networks on the meta device: names and shapes only, in no time.
    cfg = load_config(config)
    shapes = mmpose_hrnet_shapes(cfg.MODEL.EXTRA, cfg.MODEL.NUM_JOINTS, version)
    state = {k: torch.empty(shape, device='meta') for k, shape in shapes.items()}
    converted = convert_mmpose_state_dict(state)
    with torch.device('meta'):
        net = build_model(cfg)
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in net.state_dict().items()}
    net.load_state_dict(converted, strict=True, assign=True)


@pytest.mark.parametrize('version', ['1.x', '0.x'])
def test_converted_file_loads_strictly_with_the_same_values(version, tmp_path):
    cfg = load_config(TINY_HRNET)
    state = mmpose_state_dict(cfg.MODEL.EXTRA, cfg.MODEL.NUM_JOINTS, version)
    src = tmp_path / 'mmpose.pth'
    src.write_bytes(saved(mmpose_checkpoint(state, version)))
    assert convert_file(str(src), str(tmp_path / 'port.pth')) == (f'mmpose-{version}',
                                                                   len(state))
    net = build_model(cfg)
    net.load_state_dict(torch.load(tmp_path / 'port.pth', weights_only=True), strict=True)
    own = net.state_dict()
    for key, value in state.items():
        port_key = key[len('backbone.'):] if key.startswith('backbone.') else \
            'final_layer.' + key.rsplit('.', 1)[1]
        assert torch.equal(own[port_key], value), key
    head = 'head' if version == '1.x' else 'keypoint_head'
    assert torch.equal(own['final_layer.weight'], state[f'{head}.final_layer.weight'])


def test_init_checkpoint_into_mipnet_leaves_only_the_lambda_blocks(tmp_path):
    cfg = load_config(TINY_HRNET)
    state = mmpose_state_dict(cfg.MODEL.EXTRA, cfg.MODEL.NUM_JOINTS, '1.x', seed=4)
    (tmp_path / 'mmpose.pth').write_bytes(saved(mmpose_checkpoint(state)))
    convert_file(str(tmp_path / 'mmpose.pth'), str(tmp_path / 'port.pth'))
    mipnet = build_model(load_config(TINY_MIPNET))
    left = init_from_checkpoint(mipnet, str(tmp_path / 'port.pth'))
    assert left and all(k.startswith(('stage2_se.', 'stage3_se.', 'stage4_se.')) for k in left)
    assert torch.equal(mipnet.state_dict()['stage3.0.fuse_layers.2.0.1.0.weight'],
                       state['backbone.stage3.0.fuse_layers.2.0.1.0.weight'])


def test_layouts_and_refused_heads():
    cfg = load_config(TINY_HRNET)
    state = mmpose_state_dict(cfg.MODEL.EXTRA, cfg.MODEL.NUM_JOINTS, '0.x')
    assert detect_layout(state) == 'mmpose-0.x'
    assert detect_layout({'conv1.weight': torch.zeros(1)}) == 'hrnet'
    with pytest.raises(CheckpointError, match='is not an mmpose checkpoint'):
        convert_mmpose_state_dict({'conv1.weight': torch.zeros(1)})
    deconv = dict(state, **{'keypoint_head.deconv_layers.0.weight': torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r'no place for: keypoint_head\.deconv_layers'):
        convert_mmpose_state_dict(deconv)
    stacked = {k: v for k, v in state.items() if 'final_layer' not in k}
    stacked['keypoint_head.final_layer.1.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r'final_layer\.1\.weight'):
        convert_mmpose_state_dict(stacked)
