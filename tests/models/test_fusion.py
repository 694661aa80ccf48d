"""BatchNorm folding (TEST.FUSE_BN): the folded copy gives the eager heatmaps, has no
BatchNorm left (the λ MLP's BatchNorm1d included), and the model itself is unchanged."""
import pytest
import torch
from torch import nn

from mipnet.models.fusion import count_batchnorms, fuse_bn
from mipnet.models.lambda_blocks import one_hot_lambda
from tests.models._helpers import assert_heatmaps_close, random_model


@pytest.mark.parametrize('num_instances', [2, 3])
def test_folded_copy_gives_the_eager_heatmaps_of_every_instance(num_instances):
    _, model = random_model(num_instances, 'MODEL.SE_MODULES', '[True, False, True, True]')
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    fused = fuse_bn(model)
    assert count_batchnorms(model) > 0 and count_batchnorms(fused) == 0
    with torch.no_grad():
        for shared in (True, False):
            expected = model(images, instances=range(num_instances), shared_trunk=shared)
            assert_heatmaps_close(fused(images, instances=range(num_instances),
                                        shared_trunk=shared), expected)
        # A single λ per box, and a λ that is not one-hot: the folded BatchNorm1d is exact
        # for any λ, not only for the N codes.
        lam = one_hot_lambda([num_instances - 1], 3, num_instances)
        assert_heatmaps_close(fused(images, lam), model(images, lam))
        mixed = torch.full((3, num_instances), 1.0 / num_instances)
        assert_heatmaps_close(fused(images, mixed), model(images, mixed))


def test_plain_hrnet_is_folded_too():
    _, model = random_model(2, name='pose_hrnet')
    images = torch.randn(2, 3, 64, 64)
    fused = fuse_bn(model)
    assert count_batchnorms(fused) == 0
    with torch.no_grad():
        assert_heatmaps_close(fused(images), model(images))


def test_the_model_keeps_its_weights_names_and_mode():
    _, model = random_model(2)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_bn(model)
    assert model.training and not fused.training
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert any(k.endswith('bn1.running_var') for k in after)
    assert 'stage3_se.se_layers.0.fc_lambda.1.running_mean' in after
    # The copy's parameters are its own: training the model does not touch them.
    assert not any(p.data_ptr() == q.data_ptr() for p in model.parameters()
                   for q in fused.parameters())


def test_only_layer_batchnorm_pairs_are_folded():
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU(), nn.BatchNorm2d(4))
    seq[2].running_mean.fill_(0.5)
    fused = fuse_bn(seq)
    assert isinstance(fused[2], nn.BatchNorm2d)     # after a ReLU: not foldable
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(fused(x), seq.eval()(x))
