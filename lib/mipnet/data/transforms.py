"""Geometric transforms shared by data loading, decoding and visualisation.

Conventions follow HRNet: a box is described by its ``center`` (x, y) in pixels and its
``scale`` (w, h) in units of ``PIXEL_STD`` = 200 pixels.
"""
import cv2
import numpy as np

PIXEL_STD = 200.0


def get_dir(point, rot_rad):
    """Rotate a 2-vector ``point`` by ``rot_rad`` radians (counter-clockwise in image axes)."""
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs],
                    dtype=np.float32)


def _third_point(a, b):
    direct = a - b
    return b + np.array([-direct[1], direct[0]], dtype=np.float32)


def get_affine_transform(center, scale, rot, output_size, shift=(0, 0), inv=False):
    """2x3 affine matrix mapping the box (center, scale, rotation) onto ``output_size``.

    Built from three point correspondences as in HRNet: the box center, a point half a box
    width above it (rotated by ``rot`` degrees), and a third point at a right angle.

    Args:
        center: (2,) box center in pixels.
        scale: (2,) box size in units of 200 px (a scalar means square).
        rot: rotation in degrees.
        output_size: (width, height) of the output image.
        shift: shift of the center as a fraction of the box size.
        inv: return the inverse mapping (output -> image) instead.

    Returns:
        (2, 3) float64 affine matrix.
    """
    scale = np.asarray(scale, dtype=np.float32)
    if scale.ndim == 0:
        scale = np.array([scale, scale], dtype=np.float32)
    center = np.asarray(center, dtype=np.float32)
    shift = np.asarray(shift, dtype=np.float32)
    scale_tmp = scale * PIXEL_STD
    src_w = scale_tmp[0]
    dst_w, dst_h = float(output_size[0]), float(output_size[1])

    rot_rad = np.pi * rot / 180
    src_dir = get_dir([0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center + scale_tmp * shift
    src[1] = center + src_dir + scale_tmp * shift
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5], np.float32) + dst_dir
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])

    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def affine_transform_points(points, trans):
    """Apply a (2,3) affine matrix to points of shape (..., 2); returns the same shape."""
    points = np.asarray(points, dtype=np.float64)
    return points @ trans[:, :2].T + trans[:, 2]


def transform_preds(coords, center, scale, output_size):
    """Map heatmap coordinates (J, 2) back to image pixels through the inverse box affine."""
    trans = get_affine_transform(center, scale, 0, output_size, inv=True)
    return affine_transform_points(coords, trans)


def flip_back(heatmaps, flip_pairs):
    """Undo a horizontal flip of heatmaps predicted on a flipped image.

    Args:
        heatmaps: NumPy (B, J, h, w) heatmaps of the flipped image.
        flip_pairs: sequence of (left, right) joint index pairs.

    Returns:
        (B, J, h, w) heatmaps mirrored along width with left/right channels swapped.
    """
    assert heatmaps.ndim == 4, 'flip_back expects (B, J, h, w)'
    out = heatmaps[:, :, :, ::-1].copy()
    for left, right in flip_pairs:
        out[:, [left, right]] = out[:, [right, left]]
    return out


def flip_joints(joints, joints_vis, width, flip_pairs):
    """Mirror joints (..., J, 2 or 3) of an image of ``width`` pixels and swap left/right.

    Returns:
        (joints, joints_vis) copies with x -> width - 1 - x and paired joints exchanged.
    """
    joints = np.array(joints, dtype=np.float32, copy=True)
    joints_vis = np.array(joints_vis, dtype=np.float32, copy=True)
    joints[..., 0] = width - 1 - joints[..., 0]
    perm = np.arange(joints.shape[-2])
    for left, right in flip_pairs:
        perm[left], perm[right] = right, left
    return joints[..., perm, :], joints_vis[..., perm, :]


def box_to_center_scale(x, y, w, h, aspect_ratio, scale_mult=1.25):
    """HRNet box convention: center and (w, h)/200 after fixing the aspect ratio, x1.25.

    ``aspect_ratio`` is width / height of the network input.
    """
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], dtype=np.float32)
    if center[0] != -1:
        scale = scale * scale_mult
    return center, scale
