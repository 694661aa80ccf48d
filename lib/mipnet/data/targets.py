"""Gaussian heatmap targets (HRNet convention), vectorised over joints and instances."""
import numpy as np

__all__ = ['generate_heatmaps']


def generate_heatmaps(joints, joints_vis, image_size, heatmap_size, sigma, joint_weights=None):
    """Unnormalised Gaussian heatmap targets and per-joint weights.

    Follows HRNet's ``JointsDataset.generate_target``: with ``stride = image_size /
    heatmap_size`` the peak of joint ``j`` sits at ``mu = int(joint / stride + 0.5)``
    (``int`` truncates towards zero, as in HRNet), the Gaussian
    ``exp(-((x - mu_x)^2 + (y - mu_y)^2) / (2 sigma^2))`` is drawn only inside the window
    ``[int(mu - 3 sigma), int(mu + 3 sigma + 1))`` (i.e. ``6 sigma + 1`` cells for integer
    sigma; 0 elsewhere), and a joint weighs 0 (with an all-zero heatmap) when it is invisible
    or when that window does not intersect the heatmap grid. (HRNet tests ``br < 0`` and so
    keeps weight 1 with an empty heatmap when the window ends exactly at the grid edge; here
    that case weighs 0.)

    Any leading dimensions are broadcast, so (J, ...) and (N, J, ...) inputs both work.

    Args:
        joints: (..., J, 2 or 3) joint coordinates in input-image (crop) pixels.
        joints_vis: (..., J, 3), (..., J, 1) or (..., J) visibility; column 0 is used;
            > 0 means visible.
        image_size: (width, height) of the network input.
        heatmap_size: (width, height) of the heatmaps.
        sigma: Gaussian sigma in heatmap pixels.
        joint_weights: optional (J,) per-joint weights multiplied into the target weight
            (``LOSS.USE_DIFFERENT_JOINTS_WEIGHT``).

    Returns:
        (target, target_weight): float32 arrays of shape (..., J, h, w) and (..., J, 1).
    """
    joints = np.asarray(joints, dtype=np.float64)
    vis = np.asarray(joints_vis, dtype=np.float32)
    if vis.ndim == joints.ndim:
        vis = vis[..., 0]
    if vis.shape != joints.shape[:-1]:
        raise ValueError(f'joints {joints.shape} and joints_vis {np.shape(joints_vis)} '
                         'do not match')
    width, height = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.asarray(image_size, dtype=np.float64) / np.array([width, height], np.float64)
    tmp_size = sigma * 3

    mu = np.trunc(joints[..., :2] / stride + 0.5)          # (..., J, 2)
    ul = np.trunc(mu - tmp_size)
    br = np.trunc(mu + tmp_size + 1)
    inside = (ul[..., 0] < width) & (ul[..., 1] < height) & (br[..., 0] > 0) & (br[..., 1] > 0)
    weight = np.where(inside, vis, np.float32(0)).astype(np.float32)
    draw = (weight > 0.5).astype(np.float32)

    denom = np.float32(2.0 * sigma * sigma)
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)
    mu32 = mu.astype(np.float32)
    gx = np.exp(-np.square(xs - mu32[..., 0:1]) / denom)    # (..., J, w)
    gx *= (xs >= ul[..., 0:1]) & (xs < br[..., 0:1])
    gy = np.exp(-np.square(ys - mu32[..., 1:2]) / denom)    # (..., J, h)
    gy *= (ys >= ul[..., 1:2]) & (ys < br[..., 1:2])
    gy *= draw[..., None]
    target = gy[..., :, None] * gx[..., None, :]

    if joint_weights is not None:
        weight = weight * np.asarray(joint_weights, dtype=np.float32)
    return target.astype(np.float32, copy=False), weight[..., None]
