"""Network inputs and Gaussian heatmap targets (HRNet convention), batched in torch.

Data workers return the uint8 crop and the crop-space joints of every instance (see
:class:`~mipnet.data.coco.COCOStyleDataset`); :class:`BatchMaker` turns a collated batch into
the normalised images and the multi-instance targets in one batched step on the training
device. The per-sample items (evaluation, the demo) run the same code on the CPU.
"""
import functools
import math

import numpy as np
import torch

__all__ = ['BatchMaker', 'HeatmapMaker', 'generate_heatmaps', 'normalize_crops',
           'IMAGENET_MEAN', 'IMAGENET_STD']

# Applied per channel index (as HRNet does) whatever the channel order (DATASET.COLOR_RGB).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# x * mul + add in float32, two roundings: the same values as (x / 255 - mean) / std within
# float rounding, and identical on every device.
_NORM_MUL = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
_NORM_ADD = (-IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _norm_constants(device):
    return (torch.from_numpy(_NORM_MUL).to(device), torch.from_numpy(_NORM_ADD).to(device))


def normalize_crops(crops, color_rgb, channels_last=False):
    """BGR uint8 crops (..., H, W, 3) -> float32 network input (..., 3, H, W).

    RGB channel order when ``color_rgb``; ImageNet mean/std per channel index. Runs on the
    crops' device. With ``channels_last`` a 4-D result keeps the crops' (B, H, W, 3) storage
    order (``torch.channels_last``), else it is contiguous.
    """
    x = crops.movedim(-1, -3)
    if color_rgb:
        x = x.flip(-3)
    mul, add = _norm_constants(crops.device)
    fmt = torch.channels_last if channels_last and x.dim() == 4 else torch.contiguous_format
    out = x.to(torch.float32, memory_format=fmt)
    out *= mul[:, None, None]
    out += add[:, None, None]
    return out


class HeatmapMaker:
    """Unnormalised Gaussian heatmap targets and per-joint weights, batched in torch.

    Follows HRNet's ``JointsDataset.generate_target``: with ``stride = image_size /
    heatmap_size`` the peak of joint ``j`` sits at ``mu = int(joint / stride + 0.5)``
    (``int`` truncates towards zero, as in HRNet), the Gaussian
    ``exp(-((x - mu_x)^2 + (y - mu_y)^2) / (2 sigma^2))`` is drawn only inside the window
    ``[int(mu - 3 sigma), int(mu + 3 sigma + 1))`` (i.e. ``6 sigma + 1`` cells for integer
    sigma; 0 elsewhere), and a joint weighs 0 (with an all-zero heatmap) when it is invisible
    or when that window does not intersect the heatmap grid. (HRNet tests ``br < 0`` and so
    keeps weight 1 with an empty heatmap when the window ends exactly at the grid edge; here
    that case weighs 0.)

    The Gaussian is separable and its peak sits on a cell, so each 1-D factor takes only the
    values ``exp(-d^2 / (2 sigma^2))`` for integer cell distances ``d``; they are computed
    once (NumPy float32) and looked up, which makes the targets bit-identical on every device.

    Args:
        image_size: (width, height) of the network input.
        heatmap_size: (width, height) of the heatmaps.
        sigma: Gaussian sigma in heatmap pixels.
        joint_weights: optional (J,) per-joint weights multiplied into the target weight
            (``LOSS.USE_DIFFERENT_JOINTS_WEIGHT``).
        device: where the targets are made.
    """

    def __init__(self, image_size, heatmap_size, sigma, joint_weights=None, device='cpu'):
        self.width, self.height = int(heatmap_size[0]), int(heatmap_size[1])
        self.device = torch.device(device)
        stride = np.asarray(image_size, dtype=np.float64) / np.array(
            [self.width, self.height], np.float64)
        self.stride = torch.from_numpy(stride).to(self.device)
        self.tmp_size = sigma * 3
        # Cells inside the window are at most ceil(3 sigma) + 1 from the peak.
        dist = np.arange(int(math.ceil(self.tmp_size)) + 2, dtype=np.float32)
        table = np.exp(-np.square(dist) / np.float32(2.0 * sigma * sigma))
        self.table = torch.from_numpy(table.astype(np.float32)).to(self.device)
        self.xs = torch.arange(self.width, device=self.device, dtype=torch.float64)
        self.ys = torch.arange(self.height, device=self.device, dtype=torch.float64)
        self.joint_weights = None if joint_weights is None else torch.as_tensor(
            np.asarray(joint_weights, dtype=np.float32)).to(self.device)

    def _factor(self, grid, mu, ul, br):
        """1-D Gaussian factor (..., J, len(grid)): the table at |grid - mu| inside [ul, br)."""
        d = (grid - mu[..., None]).abs().clamp_(max=len(self.table) - 1).long()
        inside = (grid >= ul[..., None]) & (grid < br[..., None])
        return self.table[d] * inside

    def __call__(self, joints, joints_vis):
        """Targets of crop-space joints.

        Args:
            joints: (..., J, 2 or 3) joint coordinates in input-image (crop) pixels; any
                leading dimensions, e.g. (J, ...), (N, J, ...) or (B, N, J, ...).
            joints_vis: (..., J, 3), (..., J, 1) or (..., J) visibility; column 0 is used;
                > 0 means visible.

        Returns:
            (target (..., J, h, w), target_weight (..., J, 1)), float32 on ``device``.
        """
        joints = torch.as_tensor(joints).to(self.device, torch.float64, non_blocking=True)
        vis = torch.as_tensor(joints_vis).to(self.device, torch.float32, non_blocking=True)
        if vis.dim() == joints.dim():
            vis = vis[..., 0]
        if vis.shape != joints.shape[:-1]:
            raise ValueError(f'joints {tuple(joints.shape)} and joints_vis '
                             f'{tuple(torch.as_tensor(joints_vis).shape)} do not match')
        mu = torch.trunc(joints[..., :2] / self.stride + 0.5)          # (..., J, 2)
        ul = torch.trunc(mu - self.tmp_size)
        br = torch.trunc(mu + self.tmp_size + 1)
        inside = (ul[..., 0] < self.width) & (ul[..., 1] < self.height) & \
            (br[..., 0] > 0) & (br[..., 1] > 0)
        weight = torch.where(inside, vis, torch.zeros((), device=self.device))
        gx = self._factor(self.xs, mu[..., 0], ul[..., 0], br[..., 0])  # (..., J, w)
        gy = self._factor(self.ys, mu[..., 1], ul[..., 1], br[..., 1])  # (..., J, h)
        gy *= (weight > 0.5)[..., None]
        target = gy[..., :, None] * gx[..., None, :]
        if self.joint_weights is not None:
            weight = weight * self.joint_weights
        return target, weight[..., None]


def generate_heatmaps(joints, joints_vis, image_size, heatmap_size, sigma, joint_weights=None):
    """NumPy front end of :class:`HeatmapMaker` on the CPU.

    Args:
        joints: (..., J, 2 or 3) crop-pixel joint coordinates.
        joints_vis: (..., J, 3), (..., J, 1) or (..., J) visibility (column 0, > 0 visible).
        image_size, heatmap_size: (width, height); sigma in heatmap pixels.
        joint_weights: optional (J,) per-joint weights.

    Returns:
        (target, target_weight): float32 arrays of shape (..., J, h, w) and (..., J, 1).
    """
    maker = HeatmapMaker(image_size, heatmap_size, sigma, joint_weights)
    target, weight = maker(np.asarray(joints, dtype=np.float64),
                           np.asarray(joints_vis, dtype=np.float32))
    return target.numpy(), weight.numpy()


class BatchMaker:
    """Collated crops and joints -> normalised images and multi-instance targets on a device.

    Args:
        image_size, heatmap_size: (width, height) of the network input and heatmaps.
        sigma: Gaussian sigma in heatmap pixels.
        color_rgb: feed RGB channel order (``DATASET.COLOR_RGB``).
        joint_weights: optional (J,) per-joint target weights.
        device: the training device; inputs are copied there without blocking (from pinned
            memory when the DataLoader pins it).
        channels_last: return the images in ``torch.channels_last`` memory format.
    """

    def __init__(self, image_size, heatmap_size, sigma, color_rgb, joint_weights=None,
                 device='cpu', channels_last=False):
        self.device = torch.device(device)
        self.color_rgb = bool(color_rgb)
        self.channels_last = bool(channels_last)
        self.heatmaps = HeatmapMaker(image_size, heatmap_size, sigma, joint_weights,
                                     self.device)

    @classmethod
    def for_dataset(cls, dataset, device='cpu', channels_last=False):
        """The maker matching a :class:`~mipnet.data.coco.COCOStyleDataset`'s settings."""
        return cls(dataset.image_size, dataset.heatmap_size, dataset.sigma, dataset.color_rgb,
                   dataset.joint_weights, device, channels_last)

    def __call__(self, batch):
        """Finish a collated batch of crop items.

        Args:
            batch: ``(crops, meta)`` as collated from the dataset's crop items: crops uint8
                (B, H, W, 3) BGR; meta with 'joints' (B, N, J, 3) crop pixels and
                'joints_vis' (B, N, J, 3).

        Returns:
            (images (B, 3, H, W) float32, target (B, N, J, h, w) float32, target_weight
            (B, N, J, 1) float32, meta), tensors on ``device``; meta unchanged.
        """
        crops, meta = batch
        crops = crops.to(self.device, non_blocking=True)
        images = normalize_crops(crops, self.color_rgb, self.channels_last)
        target, target_weight = self.heatmaps(meta['joints'], meta['joints_vis'])
        return images, target, target_weight, meta
