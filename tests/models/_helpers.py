"""A tiny λ model with every weight and BatchNorm statistic random (so that folding,
compiling or exporting it is checked on real values), and the fast paths' tolerance."""
import torch
from torch import nn

from mipnet.config import load_config
from mipnet.models import build_model
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')

#: every fast path's heatmaps stay within this fraction of the eager heatmaps' maximum
REL_TOL = 1e-4


def tiny_cfg(num_instances=2, *opts):
    return load_config(TINY, ['MODEL.NUM_INSTANCES', str(num_instances), 'DEVICE', 'cpu',
                              *[str(o) for o in opts]])


@torch.no_grad()
def randomize(model, seed=0):
    """Random weights (He-scaled, so activations neither vanish nor explode) and BatchNorm
    statistics far from the identity (mean 0, var 1, weight 1, bias 0)."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
    return model


def random_model(num_instances=2, *opts, name='pose_hrnet_se_lambda', seed=0):
    """Tiny network of ``name`` (eval mode) with :func:`randomize` d weights."""
    cfg = tiny_cfg(num_instances, 'MODEL.NAME', name, *opts)
    return cfg, randomize(build_model(cfg).eval(), seed)


def assert_heatmaps_close(got, expected, rel=REL_TOL):
    """max |got - expected| <= rel * max |expected| (and the same shape)."""
    got, expected = torch.as_tensor(got).float(), torch.as_tensor(expected).float()
    assert got.shape == expected.shape
    scale = float(expected.abs().max())
    assert scale > 0
    diff = float((got - expected).abs().max())
    assert diff <= rel * scale, f'max |diff| {diff:.3g} > {rel:g} x max {scale:.3g}'
    return diff / scale
