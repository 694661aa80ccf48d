"""Heatmap decoding: argmax, sub-pixel refinement (HRNet quarter offset or DARK) and the
mapping of heatmap coordinates back to image pixels.

Everything here is NumPy and vectorised over boxes and joints; only the construction of
the per-box inverse affine matrices loops over boxes (one small OpenCV call per box).
"""
import logging

import cv2
import numpy as np

from mipnet.data.transforms import flip_back, get_affine_transform

logger = logging.getLogger(__name__)

__all__ = ['get_max_preds', 'get_final_preds', 'dark_refine', 'gaussian_blur_heatmaps',
           'heatmap_to_image_coords', 'flip_average']

_POST_PROCESS_ALIASES = {
    None: None, False: None, 'none': None, '': None,
    True: 'quarter', 'quarter': 'quarter',
    'dark': 'dark',
}


def _to_numpy_heatmaps(heatmaps):
    """Accept NumPy or torch (B, J, h, w); return a float32/float64 NumPy array."""
    if hasattr(heatmaps, 'detach'):  # torch.Tensor, without importing torch here
        t = heatmaps.detach().cpu()
        heatmaps = t.double().numpy() if str(t.dtype) == 'torch.float64' else t.float().numpy()
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 4:
        raise ValueError(f'heatmaps must be (B, J, h, w), got shape {heatmaps.shape}')
    if heatmaps.dtype != np.float64:
        heatmaps = heatmaps.astype(np.float32, copy=False)
    return heatmaps


def _normalise_post_process(post_process):
    key = post_process.lower() if isinstance(post_process, str) else post_process
    if key not in _POST_PROCESS_ALIASES:
        raise ValueError(f"post_process must be 'quarter', 'dark' or None/'none', "
                         f'got {post_process!r}')
    return _POST_PROCESS_ALIASES[key]


def get_max_preds(heatmaps):
    """Argmax of every heatmap (HRNet ``get_max_preds``).

    Args:
        heatmaps: NumPy (B, J, h, w) float array.

    Returns:
        coords: (B, J, 2) (x, y) heatmap-pixel coordinates of the maximum, in the heatmap's
            float dtype; set to (0, 0) where the maximum is <= 0.
        maxvals: (B, J, 1) maximum values, same dtype.
    """
    b, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, j, h * w)
    idx = np.argmax(flat, axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2)
    coords = np.stack([idx % w, idx // w], axis=-1).astype(heatmaps.dtype)
    coords *= (maxvals > 0)
    return coords, maxvals


def _quarter_offset(heatmaps, coords):
    """HRNet refinement: move 0.25 px towards the higher neighbour, per axis, for joints with
    ``1 < px < w-1`` and ``1 < py < h-1`` (px, py = coords rounded). Returns new coords."""
    b, j, h, w = heatmaps.shape
    if h < 3 or w < 3:
        return coords
    px = np.floor(coords[..., 0] + 0.5).astype(np.int64)
    py = np.floor(coords[..., 1] + 0.5).astype(np.int64)
    valid = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    pxc = np.clip(px, 1, w - 2)
    pyc = np.clip(py, 1, h - 2)
    bi = np.arange(b)[:, None]
    ji = np.arange(j)[None, :]
    diff_x = heatmaps[bi, ji, pyc, pxc + 1] - heatmaps[bi, ji, pyc, pxc - 1]
    diff_y = heatmaps[bi, ji, pyc + 1, pxc] - heatmaps[bi, ji, pyc - 1, pxc]
    shift = np.sign(np.stack([diff_x, diff_y], axis=-1)) * 0.25
    return coords + np.where(valid[..., None], shift, 0).astype(coords.dtype)


def _blur_unnormalised(heatmaps, kernel):
    """Zero-border Gaussian blur of every map; returns (blurred (B, J, h, w), factor (B, J))
    where ``blurred * factor`` restores each map's original maximum."""
    if kernel % 2 != 1 or kernel < 1:
        raise ValueError(f'blur kernel must be a positive odd integer, got {kernel}')
    b, j, h, w = heatmaps.shape
    border = (kernel - 1) // 2
    k1d = cv2.getGaussianKernel(kernel, 0, cv2.CV_64F).ravel()
    # Every map gets a zero border of the kernel radius and all maps are stacked into one
    # tall image: a single separable filter call then blurs them all, and no output pixel
    # inside a map reads from a neighbouring map.
    padded = np.zeros((b * j, h + 2 * border, w + 2 * border), dtype=heatmaps.dtype)
    padded[:, border:border + h, border:border + w] = heatmaps.reshape(b * j, h, w)
    tall = padded.reshape(b * j * (h + 2 * border), w + 2 * border)
    blurred = cv2.sepFilter2D(tall, -1, k1d, k1d, borderType=cv2.BORDER_CONSTANT)
    out = blurred.reshape(padded.shape)[:, border:border + h, border:border + w]
    out = out.reshape(b, j, h, w)  # a view: no copy
    orig_max = heatmaps.reshape(b, j, -1).max(axis=2)
    new_max = out.max(axis=(2, 3))
    factor = np.divide(orig_max, new_max, out=np.ones_like(orig_max), where=new_max != 0)
    return out, factor


def gaussian_blur_heatmaps(heatmaps, kernel=11):
    """DARK's modulation: blur each heatmap with a ``kernel`` x ``kernel`` Gaussian (sigma
    derived from the kernel size as OpenCV does for sigma=0: 0.3*((k-1)/2-1)+0.8), with a
    zero border, then rescale each map so its maximum equals the original maximum.

    Args:
        heatmaps: (B, J, h, w) float array.
        kernel: odd kernel size.

    Returns:
        (B, J, h, w) blurred heatmaps, same dtype.
    """
    out, factor = _blur_unnormalised(heatmaps, kernel)
    return out * factor[:, :, None, None]


def dark_refine(heatmaps, coords, kernel=11):
    """DARK (Zhang et al., CVPR 2020) sub-pixel refinement.

    The heatmaps are blurred (:func:`gaussian_blur_heatmaps`), clipped to >= 1e-10 and
    log-transformed; at each integer maximum (px, py) with ``1 < px < w-2`` and
    ``1 < py < h-2`` a second-order Taylor expansion gives the offset ``-H^-1 g`` (gradient
    by central differences with step 1, Hessian with step 2), applied when det(H) != 0.
    Only the 13 samples the expansion needs are log-transformed.

    Args:
        heatmaps: (B, J, h, w) float array (the raw network output).
        coords: (B, J, 2) integer-valued argmax coordinates from :func:`get_max_preds`.
        kernel: Gaussian blur kernel size.

    Returns:
        (B, J, 2) refined coordinates, dtype of ``coords``.
    """
    b, j, h, w = heatmaps.shape
    if h < 5 or w < 5:
        return coords
    blurred, factor = _blur_unnormalised(heatmaps, kernel)
    px = coords[..., 0].astype(np.int64)
    py = coords[..., 1].astype(np.int64)
    valid = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    pxc = np.clip(px, 2, w - 3)
    pyc = np.clip(py, 2, h - 3)
    bi = np.arange(b)[:, None]
    ji = np.arange(j)[None, :]

    def at(dy, dx):
        val = blurred[bi, ji, pyc + dy, pxc + dx] * factor  # = the normalised map's value
        return np.log(np.maximum(val, 1e-10)).astype(np.float64)

    center = at(0, 0)
    gx = 0.5 * (at(0, 1) - at(0, -1))
    gy = 0.5 * (at(1, 0) - at(-1, 0))
    hxx = 0.25 * (at(0, 2) - 2 * center + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    hyy = 0.25 * (at(2, 0) - 2 * center + at(-2, 0))
    det = hxx * hyy - hxy ** 2
    ok = valid & (det != 0)
    safe_det = np.where(ok, det, 1.0)
    # offset = -H^-1 g with H^-1 = [[hyy, -hxy], [-hxy, hxx]] / det
    off_x = -(hyy * gx - hxy * gy) / safe_det
    off_y = -(-hxy * gx + hxx * gy) / safe_det
    offset = np.where(ok[..., None], np.stack([off_x, off_y], axis=-1), 0.0)
    return (coords + offset).astype(coords.dtype)


def heatmap_to_image_coords(coords, center, scale, heatmap_size):
    """Map heatmap coordinates back to image pixels through each box's inverse affine
    (the matrix of :func:`mipnet.data.transforms.transform_preds`, rotation 0).

    Args:
        coords: (B, J, 2) heatmap coordinates.
        center: (B, 2) box centers in pixels.
        scale: (B, 2) box sizes in units of 200 px.
        heatmap_size: (w, h) of the heatmaps.

    Returns:
        (B, J, 2) float64 image coordinates.
    """
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 2)
    if not (len(center) == len(scale) == len(coords)):
        raise ValueError(f'center {center.shape}, scale {scale.shape} and coords '
                         f'{np.shape(coords)} disagree on the number of boxes')
    mats = np.empty((len(coords), 2, 3), dtype=np.float64)
    for i in range(len(coords)):  # per box: build the 2x3 matrix only
        mats[i] = get_affine_transform(center[i], scale[i], 0, heatmap_size, inv=True)
    coords = np.asarray(coords, dtype=np.float64)
    return np.einsum('bjk,bik->bji', coords, mats[:, :, :2]) + mats[:, None, :, 2]


def get_final_preds(heatmaps, center, scale, post_process='quarter', blur_kernel=11):
    """Decode heatmaps into image-space keypoints (HRNet ``get_final_preds``).

    Args:
        heatmaps: NumPy or torch (B, J, h, w) heatmaps (converted to float32, float64 kept).
        center: (B, 2) box centers in image pixels.
        scale: (B, 2) box sizes in units of 200 px.
        post_process: 'quarter' (HRNet 0.25 px shift towards the higher neighbour, also
            selected by True), 'dark' (DARK Taylor refinement) or None / 'none' / False.
        blur_kernel: Gaussian kernel size of DARK's modulation (ignored otherwise).

    Returns:
        preds: (B, J, 2) image coordinates (x, y), float dtype of the heatmaps.
        maxvals: (B, J, 1) heatmap maxima (joint confidences), same dtype.
    """
    heatmaps = _to_numpy_heatmaps(heatmaps)
    mode = _normalise_post_process(post_process)
    b, _, h, w = heatmaps.shape
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 2)
    if len(center) != b or len(scale) != b:
        raise ValueError(f'{b} heatmaps but center {center.shape} and scale {scale.shape}')
    if heatmaps.size == 0:
        return (np.zeros(heatmaps.shape[:2] + (2,), heatmaps.dtype),
                np.zeros(heatmaps.shape[:2] + (1,), heatmaps.dtype))
    coords, maxvals = get_max_preds(heatmaps)
    if mode == 'quarter':
        coords = _quarter_offset(heatmaps, coords)
    elif mode == 'dark':
        coords = dark_refine(heatmaps, coords, blur_kernel)
    preds = heatmap_to_image_coords(coords, center, scale, [w, h]).astype(heatmaps.dtype)
    return preds, maxvals


def flip_average(heatmaps, flipped_heatmaps, flip_pairs, shift=False):
    """Average heatmaps with those predicted on the horizontally flipped input.

    Args:
        heatmaps: (B, J, h, w) heatmaps of the original images.
        flipped_heatmaps: (B, J, h, w) heatmaps of the flipped images (as predicted).
        flip_pairs: (left, right) joint index pairs.
        shift: shift the flipped-back heatmaps one pixel to the right (HRNet
            ``TEST.SHIFT_HEATMAP``) before averaging.

    Returns:
        (B, J, h, w) averaged heatmaps.
    """
    heatmaps = _to_numpy_heatmaps(heatmaps)
    back = flip_back(_to_numpy_heatmaps(flipped_heatmaps), flip_pairs)
    if shift:
        back[:, :, :, 1:] = back[:, :, :, :-1].copy()
    return (heatmaps + back) * 0.5
