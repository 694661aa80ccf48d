"""Training-time sample selection and augmentation helpers (HRNet conventions).

Random draws use NumPy's global generator and Python's ``random`` only, in HRNet's order,
so that the engine's per-worker seeding makes runs reproducible.
"""
import logging
import random

import numpy as np

from mipnet.data.transforms import PIXEL_STD

logger = logging.getLogger(__name__)

__all__ = ['half_body_transform', 'select_data', 'random_box_augmentation']


def half_body_transform(joints, joints_vis, upper_body_mask, aspect_ratio):
    """HRNet's half-body crop around the upper or the lower body.

    Draws ``np.random.randn() < 0.5`` (HRNet's choice, a normal rather than a uniform draw)
    to prefer the upper body when it has more than two visible joints; otherwise the lower
    body when it has more than two, else the upper body.

    Args:
        joints: (J, 2 or 3) joints of one person in image pixels.
        joints_vis: (J, 3) or (J,) visibility (> 0 visible).
        upper_body_mask: (J,) bool, True for upper-body joints.
        aspect_ratio: width / height of the network input.

    Returns:
        (center (2,) float32, scale (2,) float32), or (None, None) when fewer than two joints
        are selected.
    """
    vis = np.asarray(joints_vis)
    if vis.ndim == 2:
        vis = vis[:, 0]
    vis = vis > 0
    upper = joints[vis & upper_body_mask, :2]
    lower = joints[vis & ~upper_body_mask, :2]
    if np.random.randn() < 0.5 and len(upper) > 2:
        selected = upper
    else:
        selected = lower if len(lower) > 2 else upper
    if len(selected) < 2:
        return None, None
    selected = np.asarray(selected, dtype=np.float32)
    center = selected.mean(axis=0)
    left_top = selected.min(axis=0)
    right_bottom = selected.max(axis=0)
    w = right_bottom[0] - left_top[0]
    h = right_bottom[1] - left_top[1]
    if w > aspect_ratio * h:
        h = w * 1.0 / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], dtype=np.float32) * 1.5
    return center.astype(np.float32), scale


def select_data(db):
    """HRNet's ``JointsDataset.select_data``: keep boxes whose visible-keypoint centroid lies
    close enough to the box center.

    For a record with ``num_vis`` visible joints (instance 0), box area
    ``area = scale_w * scale_h * 200^2`` and ``d`` the distance between the keypoint centroid
    and the box center, the record is kept when
    ``exp(-d^2 / (2 * 0.2^2 * area)) > 0.2 / 16 * num_vis + 0.45 - 0.2 / 16``.
    Records without visible joints are dropped.

    Args:
        db: list of records with 'joints' (N, J, 3), 'joints_vis' (N, J, 3), 'center' (2,),
            'scale' (2,).

    Returns:
        The selected records (a new list).
    """
    selected = []
    for rec in db:
        vis = rec['joints_vis'][0, :, 0] > 0
        num_vis = int(vis.sum())
        if num_vis == 0:
            continue
        joints_center = rec['joints'][0, vis, :2].astype(np.float64).mean(axis=0)
        area = float(rec['scale'][0]) * float(rec['scale'][1]) * PIXEL_STD ** 2
        diff2 = float(np.sum((joints_center - rec['center'].astype(np.float64)) ** 2))
        ks = np.exp(-1.0 * diff2 / (0.2 ** 2 * 2.0 * area))
        metric = (0.2 / 16) * num_vis + 0.45 - 0.2 / 16
        if ks > metric:
            selected.append(rec)
    logger.info('=> select_data kept %d of %d boxes', len(selected), len(db))
    return selected


def random_box_augmentation(center, scale, joints0, joints_vis0, *, upper_body_mask,
                            aspect_ratio, num_joints_half_body, prob_half_body, scale_factor,
                            rotation_factor, flip):
    """Draw HRNet's training augmentation for one box, in HRNet's order of random draws.

    Args:
        center, scale: (2,) box center (px) and scale (units of 200 px).
        joints0, joints_vis0: (J, 3) joints and visibility of instance 0 (for half-body).
        upper_body_mask: (J,) bool.
        aspect_ratio: width / height of the network input.
        num_joints_half_body, prob_half_body: half-body crop needs more than
            ``num_joints_half_body`` visible joints and happens with ``prob_half_body``.
        scale_factor: ``scale *= clip(randn * sf + 1, 1 - sf, 1 + sf)``.
        rotation_factor: ``rot = clip(randn * rf, -2 rf, 2 rf)`` with probability 0.6.
        flip: whether a horizontal flip may happen (with probability 0.5).

    Returns:
        (center (2,) float32, scale (2,) float32, rotation float degrees, do_flip bool).
        The center is *not* mirrored here; the caller flips it with the image width.
    """
    c = np.array(center, dtype=np.float32, copy=True)
    s = np.array(scale, dtype=np.float32, copy=True)
    if (np.sum(joints_vis0[:, 0]) > num_joints_half_body
            and np.random.rand() < prob_half_body):
        c_half, s_half = half_body_transform(joints0, joints_vis0, upper_body_mask, aspect_ratio)
        if c_half is not None:
            c, s = c_half, s_half
    sf, rf = scale_factor, rotation_factor
    s = (s * np.clip(np.random.randn() * sf + 1, 1 - sf, 1 + sf)).astype(np.float32)
    r = float(np.clip(np.random.randn() * rf, -rf * 2, rf * 2)) if random.random() <= 0.6 else 0.0
    do_flip = bool(flip and random.random() <= 0.5)
    return c, s, r, do_flip
