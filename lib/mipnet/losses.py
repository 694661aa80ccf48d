"""Heatmap losses. All reductions run in float32 whatever the autocast dtype of the heatmaps."""
import torch
from torch import nn


def _per_joint_mse(output, target, target_weight, use_target_weight):
    """0.5 * mean squared error per joint: (B, J, h, w) x2, (B, J, 1) -> (B, J)."""
    output = output.float().flatten(2)
    target = target.float().flatten(2)
    if use_target_weight:
        weight = target_weight.float().view(*target_weight.shape[:2], 1)
        output = output * weight
        target = target * weight
    return 0.5 * (output - target).pow(2).mean(dim=2)


class JointsMSELoss(nn.Module):
    """HRNet's loss: mean over joints and boxes of 0.5 * MSE of (weighted) heatmaps.

    forward(output (B,J,h,w), target (B,J,h,w), target_weight (B,J,1)) -> scalar.
    """

    def __init__(self, use_target_weight=True):
        super().__init__()
        self.use_target_weight = use_target_weight

    def per_sample(self, output, target, target_weight):
        """The same loss kept per box: (B,J,h,w), (B,J,h,w), (B,J,1) -> (B,)."""
        return _per_joint_mse(output, target, target_weight, self.use_target_weight).mean(dim=1)

    def forward(self, output, target, target_weight):
        return self.per_sample(output, target, target_weight).mean()


class JointsOHKMMSELoss(JointsMSELoss):
    """Online hard keypoint mining: per box, the mean of the ``topk`` largest joint losses.

    Note the reference sums the top-k and divides by k; that equals the mean used here.
    """

    def __init__(self, use_target_weight=True, topk=8):
        super().__init__(use_target_weight)
        self.topk = topk

    def per_sample(self, output, target, target_weight):
        per_joint = _per_joint_mse(output, target, target_weight, self.use_target_weight)
        k = min(self.topk, per_joint.shape[1])
        return per_joint.topk(k, dim=1).values.mean(dim=1)


def multi_instance_loss(criterion, output, target, target_weight, instance_weights=None):
    """λ training loss: instance k's heatmaps against instance k's target.

    Args:
        criterion: a :class:`JointsMSELoss` (or subclass).
        output: (B, K, J, h, w) predictions for K instances.
        target: (B, K, J, h, w).
        target_weight: (B, K, J, 1).
        instance_weights: None, or K non-negative weights w_k (not all 0).

    Returns:
        Scalar loss: sum_k w_k * mean_b(loss[b, k]) / sum_k w_k; without weights the mean
        over the B*K expanded samples.
    """
    b, k = output.shape[:2]
    per_sample = criterion.per_sample(output.flatten(0, 1), target.flatten(0, 1),
                                      target_weight.flatten(0, 1)).view(b, k)
    if instance_weights is None:
        return per_sample.mean()
    weights = torch.as_tensor(instance_weights, dtype=per_sample.dtype,
                              device=per_sample.device)
    if weights.shape != (k,):
        raise ValueError(f'{len(weights)} instance weights for {k} instances')
    return (per_sample.mean(dim=0) * weights).sum() / weights.sum()


def build_criterion(cfg):
    """Loss from ``LOSS.*``: OHKM when ``LOSS.USE_OHKM`` else plain JointsMSELoss."""
    if cfg.LOSS.USE_OHKM:
        return JointsOHKMMSELoss(cfg.LOSS.USE_TARGET_WEIGHT, cfg.LOSS.TOPK)
    return JointsMSELoss(cfg.LOSS.USE_TARGET_WEIGHT)
