"""MIPNet's multi-instance modulation: squeeze-excitation gated by the instance selector λ.

Module and parameter names (``se_layers.<branch>.fc.{0,2}``, ``fc_lambda.{0,1,3}``) equal the
official implementation's so its checkpoints load with ``strict=True``.
"""
import torch
from torch import nn


class SELambdaLayer(nn.Module):
    """``x * se(x) * g(λ)`` on one branch of C channels.

    ``se``: global average pool, Linear C→C/r (no bias), ReLU, Linear C/r→C (no bias), sigmoid.
    ``g``: Linear N→C/r, BatchNorm1d, ReLU, Linear C/r→C, sigmoid.
    """

    def __init__(self, channels, num_instances=2, reduction=4):
        super().__init__()
        hidden = channels // reduction
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )
        self.fc_lambda = nn.Sequential(
            nn.Linear(num_instances, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x, lambda_vec):
        """x: (B, C, H, W); lambda_vec: (B, N) → (B, C, H, W)."""
        b, c = x.shape[:2]
        squeeze = self.fc(x.mean(dim=(2, 3))).view(b, c, 1, 1)
        gate = self.fc_lambda(lambda_vec.to(x.dtype)).view(b, c, 1, 1)
        return x * (squeeze * gate)


class SELambdaModule(nn.Module):
    """One :class:`SELambdaLayer` per HRNet branch."""

    def __init__(self, channel_list, num_instances=2, reduction=4):
        super().__init__()
        self.se_layers = nn.ModuleList(
            SELambdaLayer(c, num_instances, reduction) for c in channel_list)

    def forward(self, x_list, lambda_vec):
        """x_list: per-branch tensors (B, C_i, H_i, W_i); lambda_vec: (B, N)."""
        return [layer(x, lambda_vec) for layer, x in zip(self.se_layers, x_list)]


def one_hot_lambda(instances, batch_size, num_instances, device=None, dtype=torch.float32):
    """λ vectors for ``batch_size`` boxes under each instance index, instance-major.

    Args:
        instances: sequence of K instance indices.
    Returns:
        (K * batch_size, N) one-hot tensor; rows k*B..(k+1)*B-1 select ``instances[k]``.
    """
    idx = torch.as_tensor(list(instances), device=device).repeat_interleave(batch_size)
    return nn.functional.one_hot(idx, num_instances).to(dtype)
