import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model
from mipnet.models.lambda_blocks import one_hot_lambda
from mipnet.models.summary import count_flops, count_parameters
from tests.conftest import REPO

W32 = str(REPO / 'experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml')
W48 = str(REPO / 'experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml')


def _cfg(path, *opts):
    return load_config(path, ['MODEL.PRETRAINED', '', *opts])


def _official_names(width, with_lambda):
    """Hand-listed sample of official HRNet/MIPNet parameter names and shapes."""
    c = [width, 2 * width, 4 * width, 8 * width]
    names = {
        'conv1.weight': (64, 3, 3, 3), 'bn1.running_var': (64,), 'conv2.weight': (64, 64, 3, 3),
        'layer1.0.downsample.0.weight': (256, 64, 1, 1), 'layer1.3.conv3.weight': (256, 64, 1, 1),
        'transition1.0.0.weight': (c[0], 256, 3, 3), 'transition1.1.0.0.weight': (c[1], 256, 3, 3),
        'stage2.0.branches.1.3.conv2.weight': (c[1], c[1], 3, 3),
        'stage2.0.fuse_layers.0.1.0.weight': (c[0], c[1], 1, 1),
        'stage2.0.fuse_layers.1.0.0.0.weight': (c[1], c[0], 3, 3),
        'transition2.2.0.0.weight': (c[2], c[1], 3, 3),
        'stage3.3.fuse_layers.2.0.1.0.weight': (c[2], c[0], 3, 3),
        'transition3.3.0.0.weight': (c[3], c[2], 3, 3),
        'stage4.2.fuse_layers.0.3.1.running_mean': (c[0],),
        'final_layer.weight': (17, c[0], 1, 1), 'final_layer.bias': (17,),
    }
    if with_lambda:
        names.update({
            'stage3_se.se_layers.3.fc.0.weight': (c[3] // 4, c[3]),
            'stage3_se.se_layers.3.fc.2.weight': (c[3], c[3] // 4),
            'stage3_se.se_layers.0.fc_lambda.0.weight': (c[0] // 4, 2),
            'stage3_se.se_layers.0.fc_lambda.0.bias': (c[0] // 4,),
            'stage3_se.se_layers.0.fc_lambda.1.running_var': (c[0] // 4,),
            'stage3_se.se_layers.0.fc_lambda.3.weight': (c[0], c[0] // 4),
            'stage4_se.se_layers.0.fc_lambda.3.bias': (c[0],),
        })
    return names


@pytest.mark.parametrize('path,width', [(W32, 32), (W48, 48)])
@pytest.mark.parametrize('name', ['pose_hrnet', 'pose_hrnet_se_lambda'])
def test_state_dict_names_match_official(path, width, name):
    model = build_model(_cfg(path, 'MODEL.NAME', name))
    state = model.state_dict()
    for key, shape in _official_names(width, name != 'pose_hrnet').items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    if name == 'pose_hrnet':
        assert not any('_se.' in k for k in state)
    else:
        # SE_MODULES [false, false, true, true]: only stage3_se and stage4_se exist.
        assert {k.split('.')[0] for k in state if '_se.' in k} == {'stage3_se', 'stage4_se'}
        assert len(model.stage3_se.se_layers) == 4 and len(model.stage4_se.se_layers) == 1
    # Official HRNet-W32 has 28.5M parameters and W48 63.6M.
    expected_hrnet = {32: 28.54e6, 48: 63.60e6}[width]
    assert abs(count_parameters(model) - expected_hrnet) / expected_hrnet < 0.01


def test_w48_384x288_size_and_shared_trunk_flops():
    model = build_model(_cfg(W48))
    assert 63.5e6 < count_parameters(model) < 64.0e6
    one = count_flops(model, (288, 384), 1)['total']
    two = count_flops(model, (288, 384), 2)['total']
    assert 1.38 < two / one < 1.46


def test_unknown_model_and_bad_sizes(tiny_cfg_file):
    with pytest.raises(ValueError, match='valid: pose_hrnet, pose_hrnet_se_lambda'):
        build_model(load_config(tiny_cfg_file, ['MODEL.NAME', 'pose_resnet']))
    with pytest.raises(ValueError, match='multiples of 32'):
        build_model(load_config(tiny_cfg_file, ['MODEL.IMAGE_SIZE', '[60, 64]']))
    with pytest.raises(ValueError, match='SE_MODULES'):
        build_model(load_config(tiny_cfg_file, ['MODEL.SE_MODULES', '[False, False, False, False]']))


@pytest.fixture
def tiny(tiny_cfg_file):
    torch.manual_seed(0)
    cfg = load_config(tiny_cfg_file)
    model = build_model(cfg, is_train=True)
    # The reference init (std 0.001) makes all outputs tiny; larger weights make λ visible.
    for p in model.parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p, std=0.2)
    return cfg, model


def test_lambda_changes_output(tiny):
    cfg, model = tiny
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y0 = model(x, one_hot_lambda([0], 2, 2))
        y1 = model(x, one_hot_lambda([1], 2, 2))
    assert y0.shape == (2, 17, 16, 16)
    assert (y0 - y1).abs().max() > 1e-3
    with pytest.raises(ValueError, match='lambda_vec'):
        model(x)


@pytest.mark.parametrize('se', ['[False, False, True, True]', '[True, True, True, True]',
                                '[True, False, False, False]', '[False, False, False, True]'])
@pytest.mark.parametrize('train', [False, True])
def test_forward_instances_equals_stacked_forward(tiny_cfg_file, se, train):
    torch.manual_seed(1)
    cfg = load_config(tiny_cfg_file, ['MODEL.SE_MODULES', se, 'MODEL.NUM_INSTANCES', '3'])
    model = build_model(cfg, is_train=True)
    for p in model.parameters():
        if p.dim() > 1:
            torch.nn.init.normal_(p, std=0.1)
    model.train(train)
    x = torch.randn(3, 3, 64, 64)
    shared = model.forward_instances(x, [0, 2])
    # Reference way: duplicate the batch, one λ per copy (one BatchNorm batch for both).
    dup = model(x.repeat(2, 1, 1, 1), one_hot_lambda([0, 2], 3, 3))
    ref = dup.view(2, 3, *dup.shape[1:]).transpose(0, 1)
    assert shared.shape == (3, 2, 17, 16, 16)
    torch.testing.assert_close(shared, ref, rtol=1e-4, atol=1e-5)
    # The model's reference path computes exactly the duplicated batch.
    torch.testing.assert_close(model.forward_instances(x, [0, 2], shared_trunk=False), ref,
                               rtol=0, atol=0)
    if train:
        shared.square().mean().backward()
        assert model.conv1.weight.grad is not None


def test_pose_hrnet_ignores_lambda(tiny_cfg_file):
    cfg = load_config(tiny_cfg_file, ['MODEL.NAME', 'pose_hrnet'])
    model = build_model(cfg).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a = model(x)
        b = model(x, one_hot_lambda([1], 1, 2))
        c = model(x, instances=[0, 1])
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(c[:, 1], a)


def test_init_weights_reference_and_pretrained(tiny_cfg_file, tmp_path):
    cfg = load_config(tiny_cfg_file)
    model = build_model(cfg, is_train=True)
    assert abs(model.conv1.weight.std().item() - 0.001) < 3e-4
    assert torch.all(model.bn1.weight == 1) and torch.all(model.bn1.bias == 0)
    # A pretrained file restricted to the stem is loaded; other layers keep their init.
    donor = build_model(cfg)
    torch.nn.init.constant_(donor.conv1.weight, 0.5)
    torch.nn.init.constant_(donor.final_layer.weight, 0.5)
    path = tmp_path / 'imagenet.pth'
    torch.save(donor.state_dict(), path)
    extra = {**cfg.MODEL.EXTRA, 'PRETRAINED_LAYERS': ['conv1']}
    from mipnet.models.hrnet import PoseHighResolutionNet
    net = PoseHighResolutionNet(extra, 17, cfg.MODEL.SE_MODULES)
    net.init_weights(str(path))
    assert torch.all(net.conv1.weight == 0.5)
    assert not torch.all(net.final_layer.weight == 0.5)
    with pytest.raises(FileNotFoundError, match='MODEL.PRETRAINED'):
        net.init_weights(str(tmp_path / 'missing.pth'))
