"""MODEL.LAMBDA_IDENTITY_START: a MIPNet initialised from HRNet weights starts at HRNet; the
reference form is unchanged; a checkpoint cannot be loaded under the other λ form."""
import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model, init_from_checkpoint, load_weights, model_meta
from mipnet.models.lambda_blocks import SELambdaLayer
from mipnet.utils.checkpoint import CheckpointError, with_meta
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')


def _cfg(*opts):
    return load_config(TINY, list(opts))


def _random_hrnet_state():
    """An HRNet state dict far from any initialisation: weights and BN statistics random."""
    torch.manual_seed(1)
    hrnet = build_model(_cfg('MODEL.NAME', 'pose_hrnet'))
    state = {}
    for k, v in hrnet.state_dict().items():
        if k.endswith('running_var'):
            v = torch.rand_like(v) + 0.5
        elif v.is_floating_point():
            v = v + 0.05 * torch.randn_like(v)
        state[k] = v
    hrnet.load_state_dict(state)
    return hrnet, state


@pytest.mark.parametrize('train_mode', [False, True])
def test_identity_start_equals_hrnet_for_every_instance(tmp_path, train_mode):
    hrnet, state = _random_hrnet_state()
    path = tmp_path / 'hrnet.pth'
    torch.save(state, path)
    torch.manual_seed(2)
    mipnet = build_model(_cfg('MODEL.LAMBDA_IDENTITY_START', 'true'), is_train=True)
    left = init_from_checkpoint(mipnet, str(path))
    assert left and all(k.startswith(('stage3_se.', 'stage4_se.')) for k in left)
    images = torch.randn(3, 3, 64, 64)
    hrnet.train(train_mode)
    mipnet.train(train_mode)
    with torch.no_grad():
        expected = hrnet(images)
        both = mipnet(images, instances=[0, 1])                      # shared trunk
        separate = mipnet(images, instances=[0, 1], shared_trunk=False)  # reference way
    assert expected.abs().max() > 0.1  # a real signal, not near-zero initial outputs
    for out in (both, separate):
        for k in range(2):
            assert (out[:, k] - expected).abs().max() <= 1e-5


def test_reference_form_is_unchanged():
    """Flag off: the layer computes x * sigmoid(fc(x)) * sigmoid(fc_lambda(λ)) bit for bit,
    and the last Linear layers keep their random initialisation."""
    torch.manual_seed(0)
    layer = SELambdaLayer(16, 2).eval()
    assert layer.fc[2].weight.abs().sum() > 0 and layer.fc_lambda[3].weight.abs().sum() > 0
    x = torch.randn(4, 16, 5, 3)
    lam = torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 0]), 2).float()
    squeeze = torch.sigmoid(layer.fc[2](torch.relu(layer.fc[0](x.mean(dim=(2, 3))))))
    gate = layer.fc_lambda(lam)
    expected = x * (squeeze.view(4, 16, 1, 1) * gate.view(4, 16, 1, 1))
    assert torch.equal(layer(x, lam), expected)
    # build_model with the default config builds the reference form.
    model = build_model(_cfg(), is_train=True)
    assert not any(m.identity_start for m in model.modules() if isinstance(m, SELambdaLayer))


def test_identity_start_survives_init_weights_and_keeps_the_state_dict_layout():
    reference = build_model(_cfg(), is_train=True)
    identity = build_model(_cfg('MODEL.LAMBDA_IDENTITY_START', 'true'), is_train=True)
    assert {k: v.shape for k, v in reference.state_dict().items()} == \
        {k: v.shape for k, v in identity.state_dict().items()}
    for m in identity.modules():
        if isinstance(m, SELambdaLayer):
            assert m.fc[2].weight.abs().sum() == 0
            assert m.fc_lambda[3].weight.abs().sum() == 0 and m.fc_lambda[3].bias.abs().sum() == 0


@pytest.mark.parametrize('saved,loaded', [('false', 'true'), ('true', 'false')])
def test_checkpoint_under_the_other_lambda_form_is_one_error(tmp_path, saved, loaded):
    source_cfg = _cfg('MODEL.LAMBDA_IDENTITY_START', saved)
    path = tmp_path / 'mipnet.pth'
    torch.save(with_meta(build_model(source_cfg).state_dict(), model_meta(source_cfg)), path)
    target_cfg = _cfg('MODEL.LAMBDA_IDENTITY_START', loaded)
    for load in (lambda m: load_weights(m, target_cfg, str(path)),
                 lambda m: init_from_checkpoint(m, str(path), target_cfg)):
        with pytest.raises(CheckpointError) as info:
            load(build_model(target_cfg))
        message = str(info.value)
        assert 'MODEL.LAMBDA_IDENTITY_START' in message and str(path) in message
    # Under its own setting the same file loads.
    load_weights(build_model(source_cfg), source_cfg, str(path))


def test_hrnet_checkpoint_initialises_either_lambda_form(tmp_path):
    hrnet_cfg = _cfg('MODEL.NAME', 'pose_hrnet')
    path = tmp_path / 'hrnet.pth'
    torch.save(with_meta(build_model(hrnet_cfg).state_dict(), model_meta(hrnet_cfg)), path)
    for flag in ('false', 'true'):
        cfg = _cfg('MODEL.LAMBDA_IDENTITY_START', flag)
        assert init_from_checkpoint(build_model(cfg), str(path), cfg)
