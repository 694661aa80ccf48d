"""Tensor-only forward signatures of the pose network, for graph export (ONNX).

:class:`InstancesForward` is :meth:`PoseHighResolutionNet.forward_instances` with the
instance list given as a tensor of λ rows, so that one exported graph serves any number of
instances and boxes and still runs the λ-independent trunk once per box.
"""
from torch import nn

__all__ = ['InstancesForward']


class InstancesForward(nn.Module):
    """``(images (B, 3, H, W), lambdas (K, N)) -> heatmaps (B, K, J, H/4, W/4)``.

    Row k of ``lambdas`` is the λ vector of output instance k (one-hot for instance
    ``instances[k]``). The trunk before the first λ block runs on the B images once; the
    rest runs on the K * B expanded boxes, instance-major, as in
    :meth:`~mipnet.models.hrnet.PoseHighResolutionNet.forward_instances` with
    ``shared_trunk=True``. Only for λ models (plain HRNet exports ``images`` alone).
    """

    def __init__(self, net):
        super().__init__()
        if net.first_lambda_place is None:
            raise ValueError('InstancesForward needs a λ model; export plain HRNet as '
                             'images -> heatmaps')
        self.net = net

    def forward(self, images, lambdas):
        net = self.net
        first = net.first_lambda_place
        x = images
        for step in net._steps()[:first + 1]:
            x = step(x)
        k, b = lambdas.shape[0], images.shape[0]
        # Instance-major copies of the trunk output: rows k*B..(k+1)*B-1 are instance k.
        x = [t.unsqueeze(0).expand(k, -1, -1, -1, -1).flatten(0, 1) for t in x]
        lam = lambdas.unsqueeze(1).expand(-1, b, -1).flatten(0, 1).to(images.dtype)
        out = net._run(x, lam, first + 1)
        return out.unflatten(0, (k, b)).transpose(0, 1)
