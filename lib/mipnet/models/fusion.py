"""BatchNorm folded into the layer before it, for evaluation (``TEST.FUSE_BN``).

In eval mode a BatchNorm is a per-channel affine map with its running statistics, so
``bn(conv(x))`` equals one convolution with scaled weights and a bias (likewise
``bn1d(linear(x))``, the λ MLP's ``fc_lambda.0`` / ``fc_lambda.1``). :func:`fuse_bn` builds
that network as a *copy*: the model being trained or saved keeps its BatchNorm layers and
its state_dict names, and checkpoints never hold folded weights.
"""
import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

__all__ = ['fuse_bn', 'count_batchnorms']

_PAIRS = ((nn.Conv2d, nn.BatchNorm2d, fuse_conv_bn_eval),
          (nn.Linear, nn.BatchNorm1d, fuse_linear_bn_eval))


def _fuser(layer, bn):
    """The folding function for ``layer`` followed by ``bn``, or None."""
    for layer_type, bn_type, fuse in _PAIRS:
        if type(layer) is layer_type and type(bn) is bn_type and bn.track_running_stats \
                and bn.running_mean is not None:
            return fuse
    return None


def _fold_sequential(seq):
    """Fold every (layer, BatchNorm) pair of consecutive entries of ``seq`` in place."""
    names = list(seq._modules)
    for first, second in zip(names, names[1:]):
        layer, bn = seq._modules[first], seq._modules[second]
        fuse = _fuser(layer, bn)
        if fuse is not None:
            seq._modules[first] = fuse(layer, bn)
            seq._modules[second] = nn.Identity()


def _fold_named(module):
    """Fold ``convK`` / ``bnK`` attribute pairs (HRNet's stem and residual blocks, whose
    forward applies ``bnK`` right after ``convK``) in place."""
    for name, layer in list(module._modules.items()):
        if not name.startswith('conv'):
            continue
        bn_name = 'bn' + name[len('conv'):]
        bn = module._modules.get(bn_name)
        fuse = _fuser(layer, bn) if bn is not None else None
        if fuse is not None:
            module._modules[name] = fuse(layer, bn)
            module._modules[bn_name] = nn.Identity()


def count_batchnorms(model):
    """Number of BatchNorm layers (1d/2d) left in ``model``."""
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def fuse_bn(model):
    """An eval-mode copy of ``model`` with every BatchNorm folded into its layer.

    Folds ``Conv2d -> BatchNorm2d`` and ``Linear -> BatchNorm1d`` pairs that are consecutive
    in an ``nn.Sequential`` or named ``convK`` / ``bnK`` in one module (HRNet's pattern);
    the BatchNorm becomes ``nn.Identity``. Heatmaps equal the model's in eval mode up to
    float rounding. ``model`` itself (its weights, mode and state_dict names) is unchanged.

    Args:
        model: a network (not DDP-wrapped); its BatchNorm running statistics are used.

    Returns:
        the folded copy, in eval mode, on the model's device.
    """
    fused = copy.deepcopy(model).eval()
    for module in list(fused.modules()):
        if isinstance(module, nn.Sequential):
            _fold_sequential(module)
        else:
            _fold_named(module)
    return fused
