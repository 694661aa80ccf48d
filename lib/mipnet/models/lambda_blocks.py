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

    With ``identity_start`` the layer computes ``x * 2·se(x) * 2·g(λ)`` and starts with zero
    weights (and bias) in the last Linear of ``se`` and ``g``, so a fresh layer is the
    identity. The reference form (False) scales x by about 0.5 * 0.5 at initialisation,
    which shifts every layer after it away from the HRNet weights a MIPNet is fine-tuned from.
    """

    def __init__(self, channels, num_instances=2, reduction=4, identity_start=False):
        super().__init__()
        self.identity_start = bool(identity_start)
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
        if self.identity_start:
            self.reset_identity()

    def reset_identity(self):
        """Zero the last Linear of both gates: with ``identity_start`` the layer is then the
        identity (2·sigmoid(0) = 1 for every input and λ)."""
        for linear in (self.fc[2], self.fc_lambda[3]):
            nn.init.zeros_(linear.weight)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)

    def forward(self, x, lambda_vec):
        """x: (B, C, H, W); lambda_vec: (B, N) → (B, C, H, W)."""
        b, c = x.shape[:2]
        squeeze = self.fc(x.mean(dim=(2, 3))).view(b, c, 1, 1)
        gate = self.fc_lambda(lambda_vec.to(x.dtype)).view(b, c, 1, 1)
        if self.identity_start:
            # (2·σ)(2·σ) = 4·σ·σ: both gates range over (0, 2), 1 at a zero input.
            return x * (squeeze * gate * 4.0)
        return x * (squeeze * gate)


class SELambdaModule(nn.Module):
    """One :class:`SELambdaLayer` per HRNet branch."""

    def __init__(self, channel_list, num_instances=2, reduction=4, identity_start=False):
        super().__init__()
        self.se_layers = nn.ModuleList(
            SELambdaLayer(c, num_instances, reduction, identity_start) for c in channel_list)

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
