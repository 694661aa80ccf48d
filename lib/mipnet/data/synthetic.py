"""Synthetic crowded-scene keypoint dataset in COCO format (the project's default dataset).

Each image holds 1 to 4 articulated, textured 2-D human figures with the 17 COCO joints,
drawn back to front over cluttered backgrounds. Many images contain pairs of people whose
boxes overlap strongly (IoU >= 0.4), so that a person's box also contains most of another
person: the situation MIPNet is built for.

Layout of a generated dataset (what ``DATASET.ROOT`` of ``experiments/synthetic`` expects)::

    DIR/images/train/000000000001.jpg ...
    DIR/images/val/000000000001.jpg ...
    DIR/annotations/person_keypoints_train.json
    DIR/annotations/person_keypoints_val.json

Annotations follow COCO, whose boxes and areas come from the visible segmentation: ``bbox``
is the tight box of the person's *visible* pixels (not covered by a nearer person) and
``area`` their number, so the box of a partly hidden person covers only what can be seen
and often lies largely inside the box of the person in front, as in COCO and OCHuman.
Keypoints are ``(x, y, v)`` with ``v = 2`` visible, ``v = 1`` hidden behind a nearer
person or the person's own body or head (hidden joints may lie outside the box), and
``v = 0`` (with ``x = y = 0``) outside the image.

Every image is rendered from its own random generator seeded by ``(seed, split, index)``,
so the output does not depend on the number of worker processes.

Command line: ``python tools/make_synthetic.py --out DIR --num-train N --num-val M --seed S
[--image-size W H] [--workers K] [--preview PNG]``; in Python: :func:`generate_dataset`, or
:func:`render_image` for one image in memory.

Visual cues that keep the task learnable: joints are marked by small dark discs at limb
ends, each limb segment has its own shade (lower segments darker than upper ones), limbs
of the person's left side are drawn darker than the right ones, and the face (eyes, nose,
mouth, visible ears, hair) shows which way the head turns; people facing away show only
hair. Note that horizontal-flip augmentation swaps the left/right labels but not the
shading, so a model trained with flips must rely on the geometric cues (face, facing).
"""
import json
import multiprocessing as mp
import os
import time
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from mipnet.utils.boxes import box_iou_matrix

from .metadata import COCO

__all__ = ['DEFAULT_IMAGE_SIZE', 'SyntheticConfig', 'OCHUMAN_LIKE', 'OCHUMAN_PUBLISHED',
           'render_image', 'generate_split', 'generate_dataset', 'overlap_pair_fraction',
           'max_iou_per_person', 'crowd_statistics', 'crowd_statistics_table', 'statistics_rows',
           'image_seed']

DEFAULT_IMAGE_SIZE = (256, 192)  # (width, height)
MIN_IMAGE_SIDE = 64
MAX_IMAGE_SIDE = 4096
NUM_JOINTS = COCO.num_joints


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the generator (the defaults define the project's dataset)."""
    people_probs: tuple = (0.2, 0.34, 0.26, 0.2)  # P(1, 2, 3, 4 people)
    overlap_prob: float = 0.6  # a further person is placed onto an earlier one
    min_height: float = 0.42  # standing body height, fraction of image height
    max_height: float = 0.95
    overlap_shift: tuple = (0.05, 0.4)  # |horizontal shift| onto the anchor, anchor widths
    min_visible_fraction: float = 0.3  # of a person's drawn pixels not hidden by others
    min_visible_joints: int = 6  # joints with v = 2
    jpeg_quality: int = 90
    max_attempts: int = 10  # layouts tried until every person is sufficiently visible
    # Every person's (visible) box must reach this IoU with another person's box; 0 = no
    # constraint. Layouts are redrawn until it holds (see :func:`render_image`).
    min_max_iou: float = 0.0


# OCHuman-level occlusion (validation only): two to four people per image, every person
# placed onto an earlier one, close behind it, allowed to be more hidden, and every person's
# visible box at IoU >= 0.5 with another's. The shift range sets the mean MaxIoU: (0, 0.15)
# anchor widths gives about OCHuman's 0.67 (docs/results.md, "Next measurements").
OCHUMAN_LIKE = SyntheticConfig(people_probs=(0.0, 0.5, 0.3, 0.2), overlap_prob=1.0,
                               overlap_shift=(0.0, 0.15), min_visible_fraction=0.2,
                               min_visible_joints=5, min_max_iou=0.5, max_attempts=200)

# What the OCHuman paper (Zhang et al., "Pose2Seg", CVPR 2019) reports for the dataset: 8110
# people in 4731 images, each with a box IoU > 0.5 to at least one other person, and an
# average MaxIoU of 0.67 per person.
OCHUMAN_PUBLISHED = dict(images=4731, people=8110, people_per_image=8110 / 4731,
                         mean_max_iou=0.67, min_max_iou=0.5)


# ---------------------------------------------------------------------------------------
# Part labels of a person's label map.
TORSO, NECK, HEAD_SKIN, HAIR = 1, 2, 3, 4
L_UARM, L_FARM, R_UARM, R_FARM = 5, 6, 7, 8
L_THIGH, L_SHIN, R_THIGH, R_SHIN = 9, 10, 11, 12
L_HAND, R_HAND, L_FOOT, R_FOOT = 13, 14, 15, 16
EYE, NOSE, MOUTH, EAR = 17, 18, 19, 20
MARKER = 21  # MARKER + joint index: the dark disc marking a joint
NUM_LABELS = MARKER + NUM_JOINTS

# COCO joint indices.
(NOSE_J, LEYE, REYE, LEAR, REAR, LSHO, RSHO, LELB, RELB, LWRI, RWRI,
 LHIP, RHIP, LKNE, RKNE, LANK, RANK) = range(17)

# Labels under which a joint still counts as seen (its own limb, marker, face...). A joint
# whose pixel shows any other part of the same person is hidden by the own body.
_OWNERS = {
    NOSE_J: {HEAD_SKIN, HAIR, NOSE, MOUTH, EYE},
    LEYE: {HEAD_SKIN, HAIR, EYE, NOSE}, REYE: {HEAD_SKIN, HAIR, EYE, NOSE},
    LEAR: {HEAD_SKIN, HAIR, EAR}, REAR: {HEAD_SKIN, HAIR, EAR},
    LSHO: {TORSO, NECK, L_UARM}, RSHO: {TORSO, NECK, R_UARM},
    LELB: {L_UARM, L_FARM}, RELB: {R_UARM, R_FARM},
    LWRI: {L_FARM, L_HAND}, RWRI: {R_FARM, R_HAND},
    LHIP: {TORSO, L_THIGH}, RHIP: {TORSO, R_THIGH},
    LKNE: {L_THIGH, L_SHIN}, RKNE: {R_THIGH, R_SHIN},
    LANK: {L_SHIN, L_FOOT}, RANK: {R_SHIN, R_FOOT},
}
_OWNER_LUT = np.zeros((NUM_JOINTS, 256), dtype=bool)
for _j, _labels in _OWNERS.items():
    _OWNER_LUT[_j, list(_labels)] = True
    _OWNER_LUT[_j, MARKER + _j] = True
_OWNER_LUT[:, 0] = True  # outside the own drawing: nothing of the same person covers it

# Texture group of each label: 0 none, 1 shirt, 2 trousers, 3 skin.
_SHIRT_LABELS = (TORSO, L_UARM, R_UARM)
_PANTS_LABELS = (L_THIGH, R_THIGH)

_SIDE_LABELS = (  # per side (left, right): upper arm, forearm, hand, thigh, shin, foot
    (L_UARM, L_FARM, L_HAND, L_THIGH, L_SHIN, L_FOOT),
    (R_UARM, R_FARM, R_HAND, R_THIGH, R_SHIN, R_FOOT),
)
_SIDE_JOINTS = (  # per side: shoulder, elbow, wrist, hip, knee, ankle
    (LSHO, LELB, LWRI, LHIP, LKNE, LANK),
    (RSHO, RELB, RWRI, RHIP, RKNE, RANK),
)

# Body proportions as fractions of the standing body height.
_P = dict(torso=0.30, shoulder_w=0.22, hip_w=0.15, upper_arm=0.17, forearm=0.15,
          thigh=0.235, shin=0.225, neck=0.035, head_rx=0.052, head_ry=0.066,
          t_uarm=(0.060, 0.050), t_farm=(0.048, 0.038), t_thigh=(0.085, 0.064),
          t_shin=(0.062, 0.046), t_neck=0.055, hand=0.030, foot=0.065, t_foot=0.038)

_POSES = ('stand', 'walk', 'arms_up', 'one_up', 'arms_out', 'hands_hips', 'arms_crossed',
          'reach', 'sit', 'crouch', 'kneel')
_POSE_PROBS = np.array([0.18, 0.2, 0.08, 0.1, 0.07, 0.07, 0.06, 0.07, 0.07, 0.05, 0.05])
_POSE_PROBS = _POSE_PROBS / _POSE_PROBS.sum()

_SHIFT = 4  # fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT


def image_seed(seed, split, index):
    """The ``SeedSequence`` of image ``index`` of ``split`` for the dataset ``seed``."""
    return np.random.SeedSequence([int(seed), zlib.crc32(str(split).encode()), int(index)])


# ---------------------------------------------------------------------------------------
# Pose and figure geometry.

def _direction(theta_deg):
    """Unit vector at ``theta`` degrees from straight down, positive towards image +x."""
    t = np.deg2rad(theta_deg)
    return np.array([np.sin(t), np.cos(t)])


def _wrap(a):
    return (a + 180.0) % 360.0 - 180.0


def _sample_angles(rng, pose, out, fwd):
    """Absolute limb angles (degrees from down, + towards image +x) per side (left, right).

    ``out[s]`` is the image-x sign of side ``s`` (outwards), ``fwd`` the facing sign.
    Returns four (2,) arrays: upper arm, forearm, thigh, shin.
    """
    u = rng.uniform
    ua, fa, th, sh = np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)

    def stand_arm(s):
        a = u(4, 22)
        ua[s], fa[s] = out[s] * a, out[s] * (a - u(-4, 20))

    def stand_leg(s):
        a = u(1, 10)
        th[s], sh[s] = out[s] * a, out[s] * (a + u(-7, 3))

    def raised_arm(s):
        a = u(115, 170)
        ua[s], fa[s] = out[s] * a, out[s] * (a + u(-30, 20))

    if pose == 'walk':
        front = int(rng.integers(2))
        back = 1 - front
        th[front] = fwd * u(12, 30)
        sh[front] = th[front] - fwd * u(0, 12)
        th[back] = -fwd * u(8, 25)
        sh[back] = th[back] - fwd * u(10, 45)
        ua[front] = -fwd * u(8, 30)  # arms swing against the legs
        fa[front] = ua[front] + fwd * u(5, 35)
        ua[back] = fwd * u(8, 30)
        fa[back] = ua[back] + fwd * u(10, 50)
    elif pose == 'sit':
        for s in range(2):
            th[s] = fwd * u(65, 100)
            sh[s] = fwd * u(-15, 15)
            ua[s] = fwd * u(0, 25)
            fa[s] = ua[s] + fwd * u(20, 75)
    elif pose == 'crouch':
        for s in range(2):
            th[s] = out[s] * u(40, 75)
            sh[s] = out[s] * u(-25, 5)
            ua[s] = out[s] * u(10, 45)
            fa[s] = out[s] * u(-35, 30)
    elif pose == 'kneel':
        down = int(rng.integers(2))
        up = 1 - down
        th[up] = fwd * u(60, 95)
        sh[up] = fwd * u(-10, 10)
        th[down] = fwd * u(-5, 15)
        sh[down] = -fwd * u(70, 100)
        for s in range(2):
            stand_arm(s)
    else:
        for s in range(2):
            stand_leg(s)
        if pose == 'stand':
            for s in range(2):
                stand_arm(s)
        elif pose == 'arms_up':
            for s in range(2):
                raised_arm(s)
        elif pose == 'one_up':
            s = int(rng.integers(2))
            if rng.random() < 0.5:
                raised_arm(s)
            else:  # waving: upper arm sideways, forearm up
                ua[s], fa[s] = out[s] * u(70, 115), out[s] * u(150, 195)
            stand_arm(1 - s)
        elif pose == 'arms_out':
            for s in range(2):
                a = u(65, 110)
                ua[s], fa[s] = out[s] * a, out[s] * (a + u(-35, 35))
        elif pose == 'hands_hips':
            for s in range(2):
                ua[s], fa[s] = out[s] * u(30, 55), out[s] * -u(30, 65)
        elif pose == 'arms_crossed':
            for s in range(2):
                ua[s], fa[s] = out[s] * u(3, 15), out[s] * -u(70, 105)
        elif pose == 'reach':
            s = int(rng.integers(2))
            ua[s] = fwd * u(55, 115)
            fa[s] = ua[s] + fwd * u(-10, 30)
            stand_arm(1 - s)
        else:
            raise ValueError(pose)

    # Per-joint noise within anatomical limits.
    ua = ua + rng.normal(0, 5, 2)
    fa = fa + rng.normal(0, 6, 2)
    th = th + rng.normal(0, 4, 2)
    sh = sh + rng.normal(0, 4, 2)
    fa = ua + np.clip(_wrap(fa - ua), -150, 150)
    sh = th + np.clip(_wrap(sh - th), -140, 140)
    return ua, fa, th, sh


class _Figure:
    """Geometry of one articulated person (image coordinates once placed)."""

    def __init__(self, rng, height):
        self.height = hb = float(height)
        p = {k: (np.array(v) * hb if isinstance(v, tuple) else v * hb) for k, v in _P.items()}
        self.p = p
        # Facing: yaw 0 looks at the camera; |yaw| > 90 faces away.
        if rng.random() < 0.85:
            yaw = rng.uniform(-60, 60)
        else:
            yaw = 180 + rng.uniform(-45, 45)
        self.yaw = yaw
        cy, sy = np.cos(np.deg2rad(yaw)), np.sin(np.deg2rad(yaw))
        out_left = 1.0 if cy > 0 else -1.0  # image-x sign of the person's left side
        self.out = (out_left, -out_left)
        fwd = float(np.sign(sy)) if abs(sy) > 0.2 else float(rng.choice([-1.0, 1.0]))
        self.fwd = fwd
        # Nearness of each side to the camera: draw the far side first.
        self.side_order = (0, 1) if -sy < sy else (1, 0)
        if abs(sy) < 0.2:
            self.side_order = tuple(rng.permutation(2))
        self.pose = str(rng.choice(_POSES, p=_POSE_PROBS))
        lean = float(np.clip(rng.normal(0, 6), -15, 15))
        if self.pose in ('sit', 'crouch', 'kneel'):
            lean = float(np.clip(lean + fwd * rng.uniform(0, 12), -20, 20))
        width = 0.55 + 0.45 * abs(cy)
        self.width_factor = width
        # Thickness and segment length jitter per person (build).
        build = rng.uniform(0.85, 1.2)
        for k in ('t_uarm', 't_farm', 't_thigh', 't_shin', 't_neck'):
            p[k] = p[k] * build
        limb = rng.uniform(0.93, 1.07)
        for k in ('upper_arm', 'forearm', 'thigh', 'shin'):
            p[k] = p[k] * limb

        ua, fa, th, sh = _sample_angles(rng, self.pose, self.out, fwd)
        up = np.array([np.sin(np.deg2rad(lean)), -np.cos(np.deg2rad(lean))])
        lat = np.array([np.cos(np.deg2rad(lean)), np.sin(np.deg2rad(lean))])
        self.up, self.lat = up, lat
        j = np.zeros((NUM_JOINTS, 2))
        pelvis = np.zeros(2)
        neck = pelvis + up * p['torso']
        self.pelvis, self.neck = pelvis, neck
        for s in range(2):
            sho, elb, wri, hip, kne, ank = _SIDE_JOINTS[s]
            j[sho] = neck + lat * self.out[s] * p['shoulder_w'] / 2 * width
            j[hip] = pelvis + lat * self.out[s] * p['hip_w'] / 2 * width
            j[elb] = j[sho] + _direction(ua[s] - lean) * p['upper_arm']
            j[wri] = j[elb] + _direction(fa[s] - lean) * p['forearm']
            j[kne] = j[hip] + _direction(th[s]) * p['thigh']
            j[ank] = j[kne] + _direction(sh[s]) * p['shin']
        self.forearm_dir = [_direction(fa[s] - lean) for s in range(2)]

        # Head and face.
        tilt = lean + rng.normal(0, 7)
        self.tilt = tilt
        up_head = np.array([np.sin(np.deg2rad(tilt)), -np.cos(np.deg2rad(tilt))])
        self.head_center = neck + up_head * (p['neck'] + p['head_ry'])
        self.rx, self.ry = p['head_rx'], p['head_ry']
        psi = yaw + rng.normal(0, 15)
        self.head_yaw = psi
        self.hidden = np.zeros(NUM_JOINTS, dtype=bool)  # hidden by the own head
        face = {}
        rad = np.deg2rad
        face[NOSE_J] = ((self.rx * 1.0 * np.sin(rad(psi)), self.ry * 0.15),
                        np.cos(rad(psi)) > -0.05)
        for jj, side in ((LEYE, 1), (REYE, -1)):
            b = rad(psi + side * 35)
            face[jj] = ((self.rx * 0.9 * np.sin(b), -self.ry * 0.15), np.cos(b) > 0.15)
        for jj, side in ((LEAR, 1), (REAR, -1)):
            b = rad(psi + side * 90)
            face[jj] = ((self.rx * 1.0 * np.sin(b), self.ry * 0.05), np.cos(b) > -0.3)
        for jj, (off, vis) in face.items():
            j[jj] = self._head_point(off)
            self.hidden[jj] = not vis
        self.joints = j

    def _head_point(self, off):
        t = np.deg2rad(self.tilt)
        c, s = np.cos(t), np.sin(t)
        return self.head_center + np.array([off[0] * c - off[1] * s, off[0] * s + off[1] * c])

    def translate(self, d):
        d = np.asarray(d, dtype=np.float64)
        self.joints = self.joints + d
        self.head_center = self.head_center + d
        self.pelvis = self.pelvis + d
        self.neck = self.neck + d

    def extent(self):
        """Approximate (x0, y0, x1, y1) of the drawn body."""
        pts = np.vstack([self.joints, self.head_center[None] + [[-self.rx, -self.ry],
                                                                [self.rx, self.ry]]])
        m = 0.04 * self.height
        return np.array([pts[:, 0].min() - m, pts[:, 1].min() - m,
                         pts[:, 0].max() + m, pts[:, 1].max() + m])


# ---------------------------------------------------------------------------------------
# Drawing.

def _fx(p):
    return (int(round(p[0] * _ONE)), int(round(p[1] * _ONE)))


def _disc(img, c, r, val):
    cv2.circle(img, _fx(c), max(1, int(round(r * _ONE))), int(val), -1, cv2.LINE_8, _SHIFT)


def _capsule(img, p1, p2, t1, t2, val):
    """Tapered limb from ``p1`` (width ``t1``) to ``p2`` (width ``t2``) with round ends."""
    p1, p2 = np.asarray(p1, float), np.asarray(p2, float)
    d = p2 - p1
    n = np.hypot(*d)
    if n > 1e-6:
        nrm = np.array([-d[1], d[0]]) / n
        poly = np.array([p1 + nrm * t1 / 2, p2 + nrm * t2 / 2, p2 - nrm * t2 / 2,
                         p1 - nrm * t1 / 2])
        cv2.fillConvexPoly(img, np.round(poly * _ONE).astype(np.int32), int(val), cv2.LINE_8,
                           _SHIFT)
    _disc(img, p1, t1 / 2, val)
    _disc(img, p2, t2 / 2, val)


def _ellipse(img, c, axes, angle, val):
    cv2.ellipse(img, _fx(c), (max(1, int(round(axes[0] * _ONE))),
                              max(1, int(round(axes[1] * _ONE)))),
                float(angle), 0, 360, int(val), -1, cv2.LINE_8, _SHIFT)


def _draw_labels(fig, shape):
    """Label map (uint8, ``shape``) of one person: part ids in drawing order."""
    lab = np.zeros(shape, dtype=np.uint8)
    j, p, hb = fig.joints, fig.p, fig.height
    mk = 0.32  # marker radius relative to limb width

    for s in fig.side_order:  # legs, far side first
        uarm, farm, hand, thigh, shin, foot = _SIDE_LABELS[s]
        sho, elb, wri, hip, kne, ank = _SIDE_JOINTS[s]
        _capsule(lab, j[hip], j[kne], p['t_thigh'][0], p['t_thigh'][1], thigh)
        _capsule(lab, j[kne], j[ank], p['t_shin'][0], p['t_shin'][1], shin)
        _disc(lab, j[kne], p['t_thigh'][1] * mk, MARKER + kne)
        toe = j[ank] + np.array([fig.fwd * p['foot'] * (0.35 + 0.65 * abs(np.sin(
            np.deg2rad(fig.yaw)))), 0.015 * hb])
        _capsule(lab, j[ank], toe, p['t_foot'], p['t_foot'] * 0.9, foot)
        _disc(lab, j[ank], p['t_shin'][1] * mk, MARKER + ank)

    # Torso polygon.
    w_sho = [j[_SIDE_JOINTS[s][0]] + fig.lat * fig.out[s] * p['t_uarm'][0] * 0.3
             + fig.up * 0.015 * hb for s in range(2)]
    w_hip = [j[_SIDE_JOINTS[s][3]] + fig.lat * fig.out[s] * p['t_thigh'][0] * 0.45
             - fig.up * 0.015 * hb for s in range(2)]
    mid = (fig.neck + fig.pelvis) / 2
    waist = [mid + fig.lat * fig.out[s] * (p['shoulder_w'] + p['hip_w']) / 4
             * fig.width_factor * 0.92 for s in range(2)]
    poly = np.array([w_sho[0], w_sho[1], waist[1], w_hip[1], w_hip[0], waist[0]])
    cv2.fillPoly(lab, [np.round(poly * _ONE).astype(np.int32)], int(TORSO), cv2.LINE_8, _SHIFT)
    for s in range(2):
        hip = _SIDE_JOINTS[s][3]
        _disc(lab, j[hip], p['t_thigh'][0] * mk, MARKER + hip)

    # Neck, head, face.
    _capsule(lab, fig.neck - fig.up * 0.01 * hb, fig.head_center, p['t_neck'], p['t_neck'],
             NECK)
    head = np.zeros(shape, dtype=np.uint8)
    _ellipse(head, fig.head_center, (fig.rx, fig.ry), fig.tilt, 1)
    lab[head > 0] = HAIR
    cpsi = np.cos(np.deg2rad(fig.head_yaw))
    spsi = np.sin(np.deg2rad(fig.head_yaw))
    if cpsi > -0.05:
        face = np.zeros(shape, dtype=np.uint8)
        _ellipse(face, fig._head_point((fig.rx * 0.45 * spsi, fig.ry * 0.18)),
                 (fig.rx * (0.6 + 0.3 * max(cpsi, 0)), fig.ry * 0.8), fig.tilt, 1)
        lab[(face > 0) & (head > 0)] = HEAD_SKIN
    er = max(0.7, 0.14 * fig.rx)
    for jj in (LEYE, REYE):
        if not fig.hidden[jj]:
            _disc(lab, j[jj], er, EYE)
    if not fig.hidden[NOSE_J]:
        _disc(lab, j[NOSE_J], max(0.8, 0.16 * fig.rx), NOSE)
        if cpsi > 0.3:
            m = fig._head_point((fig.rx * 0.75 * spsi, fig.ry * 0.5))
            half = np.array([fig.rx * 0.25 * cpsi, 0.0])
            _capsule(lab, m - half, m + half, er, er, MOUTH)
    for jj in (LEAR, REAR):
        if not fig.hidden[jj]:
            _ellipse(lab, j[jj], (0.17 * fig.rx, 0.26 * fig.ry), fig.tilt, EAR)

    # Arms (in front of the torso), far side first.
    for s in fig.side_order:
        uarm, farm, hand, thigh, shin, foot = _SIDE_LABELS[s]
        sho, elb, wri, hip, kne, ank = _SIDE_JOINTS[s]
        _capsule(lab, j[sho], j[elb], p['t_uarm'][0], p['t_uarm'][1], uarm)
        _disc(lab, j[sho], p['t_uarm'][0] * mk, MARKER + sho)
        _capsule(lab, j[elb], j[wri], p['t_farm'][0], p['t_farm'][1], farm)
        _disc(lab, j[elb], p['t_uarm'][1] * mk, MARKER + elb)
        _disc(lab, j[wri] + fig.forearm_dir[s] * p['hand'] * 0.8, p['hand'], hand)
        _disc(lab, j[wri], p['t_farm'][1] * mk, MARKER + wri)
    return lab


def _random_color(rng, sat=(0.3, 1.0), val=(0.25, 1.0)):
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]],
                   dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


_SKIN_TONES = np.array([[189, 224, 255], [150, 190, 235], [120, 165, 215], [90, 135, 190],
                        [65, 100, 150], [45, 70, 110]], dtype=np.float32)  # BGR


def _palette(rng):
    """(NUM_LABELS, 3) BGR colours of one person's parts."""
    pal = np.zeros((NUM_LABELS, 3), dtype=np.float32)
    shirt = _random_color(rng)
    pants = _random_color(rng, sat=(0.1, 0.9), val=(0.15, 0.85))
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.08, 3)
    hair = _random_color(rng, sat=(0.2, 0.8), val=(0.05, 0.45))
    shoes = _random_color(rng, sat=(0.0, 0.6), val=(0.05, 0.6))
    long_sleeves = rng.random() < 0.5
    long_pants = rng.random() < 0.75
    lower = 0.84  # lower limb segments are darker than upper ones
    left = 0.78  # the person's left limbs are darker than the right ones
    pal[TORSO] = shirt
    pal[NECK] = skin * 0.9
    pal[HEAD_SKIN] = skin
    pal[HAIR] = hair
    pal[EYE] = (25, 25, 25)
    pal[NOSE] = skin * np.array([0.55, 0.55, 0.8])
    pal[MOUTH] = (40, 40, 150)
    pal[EAR] = skin * 0.8
    for s, k in ((0, left), (1, 1.0)):
        uarm, farm, hand, thigh, shin, foot = _SIDE_LABELS[s]
        pal[uarm] = shirt * 0.95 * k
        pal[farm] = (shirt if long_sleeves else skin) * lower * k
        pal[hand] = skin * 0.92 * k
        pal[thigh] = pants * k
        pal[shin] = (pants if long_pants else skin) * lower * k
        pal[foot] = shoes * k
        sho, elb, wri, hip, kne, ank = _SIDE_JOINTS[s]
        for jj, src in ((sho, uarm), (elb, uarm), (wri, farm), (hip, thigh), (kne, thigh),
                        (ank, shin)):
            pal[MARKER + jj] = pal[src] * 0.5 + 10
    return np.clip(pal, 0, 255), long_sleeves, long_pants


def _texture(rng, shape, amp_range=(0.1, 0.3)):
    """Multiplicative texture (float32 ``shape``): plain, stripes, checks or blotches."""
    h, w = shape
    kind = rng.integers(4)
    amp = rng.uniform(*amp_range)
    if kind == 0:
        return 1 + 0.02 * rng.standard_normal(shape, dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind in (1, 2):
        period = rng.uniform(3, 9)
        a = rng.uniform(0, np.pi)
        wave = np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period + rng.uniform(0, 6))
        if kind == 2:
            wave = np.sign(wave) * np.sign(np.sin((-xx * np.sin(a) + yy * np.cos(a))
                                                  * 2 * np.pi / period))
        return (1 + amp * wave).astype(np.float32)
    gh, gw = max(2, h // 6), max(2, w // 6)
    blot = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    blot = cv2.resize(blot, (w, h), interpolation=cv2.INTER_LINEAR)
    return (1 + amp * np.clip(blot, -1.5, 1.5)).astype(np.float32)


def _paint_person(canvas, lab, rng):
    """Paint one person's label map onto ``canvas`` (float32 BGR, in place)."""
    pal, long_sleeves, long_pants = _palette(rng)
    rows = np.flatnonzero(lab.any(axis=1))
    cols = np.flatnonzero(lab.any(axis=0))
    if rows.size == 0:
        return
    H, W = lab.shape
    y0, y1 = max(rows[0] - 1, 0), min(rows[-1] + 2, H)
    x0, x1 = max(cols[0] - 1, 0), min(cols[-1] + 2, W)
    L = lab[y0:y1, x0:x1]
    shape = L.shape
    group = np.zeros(NUM_LABELS, dtype=np.uint8)
    shirt = list(_SHIRT_LABELS) + ([L_FARM, R_FARM] if long_sleeves else [])
    pants = list(_PANTS_LABELS) + ([L_SHIN, R_SHIN] if long_pants else [])
    group[shirt] = 1
    group[pants] = 2
    group[[NECK, HEAD_SKIN, L_HAND, R_HAND, EAR]
          + ([] if long_sleeves else [L_FARM, R_FARM])
          + ([] if long_pants else [L_SHIN, R_SHIN])] = 3
    texs = np.stack([np.ones(shape, np.float32), _texture(rng, shape),
                     _texture(rng, shape, (0.05, 0.2)),
                     1 + 0.03 * rng.standard_normal(shape, dtype=np.float32)])
    mult = np.choose(group[L], texs)
    col = pal[L] * mult[..., None]
    edge = np.zeros(shape, dtype=bool)
    edge[:, 1:] |= L[:, 1:] != L[:, :-1]
    edge[:, :-1] |= L[:, 1:] != L[:, :-1]
    edge[1:] |= L[1:] != L[:-1]
    edge[:-1] |= L[1:] != L[:-1]
    edge &= (L > 0) & (L < EYE)  # outline the body parts (not the small face marks)
    col[edge] *= 0.62
    mask = L > 0
    region = canvas[y0:y1, x0:x1]
    region[mask] = col[mask]


def _background(rng, W, H):
    """Float32 BGR background: gradient, blotches, texture noise and clutter shapes."""
    c1, c2 = rng.uniform(15, 240, (2, 3)).astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    t = (np.arange(W, dtype=np.float32)[None] * np.float32(np.cos(a))
         + np.arange(H, dtype=np.float32)[:, None] * np.float32(np.sin(a)))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    bg = c1 + (c2 - c1) * t[..., None]
    gh, gw = rng.integers(2, 7, 2)
    blobs = rng.uniform(-70, 70, (gh, gw, 3)).astype(np.float32)
    bg += cv2.resize(blobs, (W, H), interpolation=cv2.INTER_CUBIC) * rng.uniform(0.2, 1.0)
    if rng.random() < 0.5:  # fine grain
        grain = rng.uniform(3, 12) * rng.standard_normal((H // 2 + 1, W // 2 + 1),
                                                         dtype=np.float32)
        bg += cv2.resize(grain, (W, H), interpolation=cv2.INTER_LINEAR)[..., None]
    s = min(W, H)
    for _ in range(int(rng.integers(2, 13))):
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        kind = rng.integers(6)
        x, y = rng.uniform(-0.1 * W, 1.1 * W), rng.uniform(-0.1 * H, 1.1 * H)
        if kind == 0:  # filled rectangle
            w, h = rng.uniform(0.05, 0.5, 2) * s
            cv2.rectangle(bg, (int(x), int(y)), (int(x + w), int(y + h)), color, -1)
        elif kind == 1:  # rectangle outline
            w, h = rng.uniform(0.05, 0.5, 2) * s
            cv2.rectangle(bg, (int(x), int(y)), (int(x + w), int(y + h)), color,
                          int(rng.integers(1, 4)))
        elif kind == 2:  # line
            x2, y2 = rng.uniform(0, W), rng.uniform(0, H)
            cv2.line(bg, (int(x), int(y)), (int(x2), int(y2)), color, int(rng.integers(1, 5)),
                     cv2.LINE_AA)
        elif kind == 3:  # circle
            cv2.circle(bg, (int(x), int(y)), int(rng.uniform(0.02, 0.2) * s), color,
                       int(rng.choice([-1, 1, 2])), cv2.LINE_AA)
        elif kind == 4:  # ellipse
            cv2.ellipse(bg, (int(x), int(y)), (int(rng.uniform(0.03, 0.25) * s),
                                               int(rng.uniform(0.03, 0.25) * s)),
                        float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        else:  # a limb-like bar (distractor)
            ang = rng.uniform(0, 2 * np.pi)
            ln = rng.uniform(0.1, 0.35) * s
            cv2.line(bg, (int(x), int(y)), (int(x + ln * np.cos(ang)), int(y + ln * np.sin(ang))),
                     color, int(max(2, rng.uniform(0.02, 0.06) * s)), cv2.LINE_AA)
    return bg


# ---------------------------------------------------------------------------------------
# Scene layout.

def _sample_layout(rng, W, H, cfg):
    n = int(rng.choice(np.arange(1, len(cfg.people_probs) + 1), p=cfg.people_probs))
    figs = []
    for i in range(n):
        if i > 0 and rng.random() < cfg.overlap_prob:
            anchor = figs[int(rng.integers(len(figs)))]
            hb = anchor.height * rng.uniform(0.78, 1.25)
            fig = _Figure(rng, hb)
            ax0, ay0, ax1, ay1 = anchor.extent()
            e = fig.extent()
            target = np.array([(ax0 + ax1) / 2 + rng.choice([-1, 1])
                               * rng.uniform(*cfg.overlap_shift) * (ax1 - ax0),
                               (ay0 + ay1) / 2 + rng.uniform(-0.12, 0.12) * (ay1 - ay0)])
            fig.translate(target - (e[:2] + e[2:]) / 2)
        else:
            hb = H * rng.uniform(cfg.min_height, cfg.max_height)
            fig = _Figure(rng, hb)
            e = fig.extent()
            bw, bh = e[2] - e[0], e[3] - e[1]
            cx = rng.uniform(0.12 * W, 0.88 * W)
            lo, hi = -0.08 * bh, H - 0.75 * bh
            top = rng.uniform(min(lo, hi), max(lo, hi))
            fig.translate(np.array([cx - bw / 2, top]) - e[:2])
        figs.append(fig)
    return [figs[k] for k in rng.permutation(n)]  # back to front


def _annotate(figs, W, H, cfg):
    """Label maps, keypoints (17, 3) and acceptance of each person (back to front)."""
    labs = [_draw_labels(f, (H, W)) for f in figs]
    masks = [lab > 0 for lab in labs]
    front = [None] * len(figs)
    union = np.zeros((H, W), dtype=bool)
    for i in range(len(figs) - 1, -1, -1):
        front[i] = union.copy()
        union |= masks[i]
    people = []
    min_area = max(40.0, 150.0 * (H / 192.0) ** 2)
    for i, f in enumerate(figs):
        kps = np.zeros((NUM_JOINTS, 3))
        for jj, (x, y) in enumerate(f.joints):
            if not (0 <= x <= W - 1 and 0 <= y <= H - 1):
                continue
            ix, iy = int(round(x)), int(round(y))
            hidden = (f.hidden[jj] or not _OWNER_LUT[jj, labs[i][iy, ix]]
                      or front[i][iy, ix])
            kps[jj] = (x, y, 1 if hidden else 2)
        seen = masks[i] & ~front[i]  # COCO boxes and areas follow the visible pixels
        full = int(masks[i].sum())
        visible = int(seen.sum())
        ok = (full >= min_area and visible >= cfg.min_visible_fraction * full
              and int((kps[:, 2] == 2).sum()) >= cfg.min_visible_joints)
        people.append(dict(keypoints=kps, mask=masks[i], visible_mask=seen, full_area=full,
                           visible_area=visible, ok=ok))
    return labs, people


def render_image(seed, split, index, image_size=DEFAULT_IMAGE_SIZE, config=None):
    """Render one image of the dataset.

    Returns ``(image, people)``: a uint8 BGR image of ``image_size`` (width, height) and,
    back to front, one dict per person with ``keypoints`` (17, 3) float array (v=0 rows are
    zero), ``bbox`` [x, y, w, h] and ``area`` of the visible pixels, ``full_bbox`` and
    ``full_area`` of the whole drawn body (hidden parts included) and ``num_keypoints``.
    """
    cfg = config or SyntheticConfig()
    W, H = int(image_size[0]), int(image_size[1])
    rng = np.random.default_rng(image_seed(seed, split, index))
    for attempt in range(cfg.max_attempts):
        figs = _sample_layout(rng, W, H, cfg)
        labs, people = _annotate(figs, W, H, cfg)
        if all(p['ok'] for p in people) and _overlapping(people, cfg.min_max_iou).all():
            break
    else:  # drop the insufficiently visible people, then the not overlapping ones
        while figs and not all(p['ok'] for p in people):
            k = next(i for i, p in enumerate(people) if not p['ok'])
            figs.pop(k)
            labs, people = _annotate(figs, W, H, cfg)
        while figs and not _overlapping(people, cfg.min_max_iou).all():
            figs.pop(int(np.argmin(_overlapping(people, cfg.min_max_iou))))
            labs, people = _annotate(figs, W, H, cfg)
    canvas = _background(rng, W, H)
    for lab in labs:
        _paint_person(canvas, lab, rng)
    # Global photometric variation.
    canvas = canvas * rng.uniform(0.85, 1.15) + rng.uniform(-15, 15)
    if rng.random() < 0.4:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 0.8))
    canvas += rng.uniform(1, 5) * rng.standard_normal(canvas.shape, dtype=np.float32)
    image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)

    out = []
    for p in people:
        kps = p['keypoints']
        out.append(dict(keypoints=kps, bbox=_mask_box(p['visible_mask']),
                        area=float(p['visible_area']), full_bbox=_mask_box(p['mask']),
                        full_area=float(p['full_area']),
                        num_keypoints=int((kps[:, 2] > 0).sum())))
    return image, out


def _overlapping(people, min_iou):
    """(P,) bool: the visible box of each person has IoU >= ``min_iou`` with another's
    (all True when ``min_iou`` is 0)."""
    if min_iou <= 0:
        return np.ones(len(people), dtype=bool)
    if len(people) < 2:
        return np.zeros(len(people), dtype=bool)
    return _max_ious([_mask_box(p['visible_mask']) for p in people]) >= min_iou


def _max_ious(boxes):
    """(P,) MaxIoU of each ``[x, y, w, h]`` box: its largest IoU with another box
    (0 for a single box)."""
    if len(boxes) < 2:
        return np.zeros(len(boxes))
    iou = box_iou_matrix(boxes)
    np.fill_diagonal(iou, 0.0)
    return iou.max(axis=1)


def _mask_box(mask):
    """[x, y, w, h] (floats) of the pixels of a non-empty boolean mask."""
    ys, xs = np.nonzero(mask)
    x0, y0 = xs.min(), ys.min()
    return [float(x0), float(y0), float(xs.max() + 1 - x0), float(ys.max() + 1 - y0)]


# ---------------------------------------------------------------------------------------
# Dataset writing.

def _file_name(index):
    return f'{index + 1:012d}.jpg'


def _render_job(args):
    img_dir, seed, split, index, image_size, cfg = args
    image, people = render_image(seed, split, index, image_size, cfg)
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, int(cfg.jpeg_quality)])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    with open(os.path.join(img_dir, _file_name(index)), 'wb') as f:
        f.write(buf.tobytes())
    return index, people


def _worker_init():
    cv2.setNumThreads(1)


def _check_args(num, seed, image_size, workers):
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f'number of images must be an integer >= 0, got {num!r}')
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be an integer >= 0, got {seed!r}')
    if (len(image_size) != 2 or not all(MIN_IMAGE_SIDE <= int(s) <= MAX_IMAGE_SIDE
                                        for s in image_size)):
        raise ValueError(f'image size must be two integers (width height) in '
                         f'[{MIN_IMAGE_SIDE}, {MAX_IMAGE_SIDE}], got {tuple(image_size)!r}')
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f'workers must be an integer >= 1, got {workers!r}')


def _prepare_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, '.write_test')
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as e:
        raise ValueError(f'cannot write to {os.fspath(path)!r}: {e.strerror or e}') from None


def _categories():
    return [dict(id=1, name='person', supercategory='person',
                 keypoints=list(COCO.keypoint_names),
                 skeleton=[[a + 1, b + 1] for a, b in COCO.skeleton])]


def generate_split(out_dir, split, num_images, seed=0, image_size=DEFAULT_IMAGE_SIZE,
                   workers=1, config=None, pool=None):
    """Render ``num_images`` images of ``split`` under ``out_dir`` and write its annotation
    file; returns the path of ``annotations/person_keypoints_{split}.json``."""
    cfg = config or SyntheticConfig()
    image_size = (int(image_size[0]), int(image_size[1]))
    _check_args(num_images, seed, image_size, workers)
    img_dir = os.path.join(out_dir, 'images', split)
    ann_dir = os.path.join(out_dir, 'annotations')
    _prepare_dir(img_dir)
    _prepare_dir(ann_dir)
    jobs = [(img_dir, int(seed), split, i, image_size, cfg) for i in range(num_images)]
    own_pool = None
    if pool is None and workers > 1 and num_images > 1:
        pool = own_pool = _make_pool(workers)
    try:
        results = (pool.imap(_render_job, jobs, chunksize=8) if pool is not None
                   else map(_render_job, jobs))
        images, annotations = _collect(results, image_size)
    finally:
        if own_pool is not None:
            own_pool.close()
            own_pool.join()
    data = dict(info=dict(description='MIPNet synthetic crowded people (COCO keypoints)',
                          version='1.0', seed=int(seed), split=split,
                          image_size=list(image_size)),
                licenses=[], images=images, annotations=annotations, categories=_categories())
    path = os.path.join(ann_dir, f'person_keypoints_{split}.json')
    with open(path, 'w') as f:
        json.dump(data, f, separators=(',', ':'))
    return path


def _make_pool(workers):
    # 'spawn': safe even when the caller has already used torch / OpenMP / cv2 threads.
    return mp.get_context('spawn').Pool(workers, initializer=_worker_init)


def _collect(results, image_size):
    images, annotations = [], []
    for index, people in results:
        image_id = index + 1
        images.append(dict(id=image_id, file_name=_file_name(index), width=image_size[0],
                           height=image_size[1]))
        for p in people:
            kps = p['keypoints']
            flat = []
            for x, y, v in kps:
                flat += [round(float(x), 2), round(float(y), 2), int(v)]
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=1,
                                    iscrowd=0, bbox=p['bbox'], area=p['area'],
                                    num_keypoints=p['num_keypoints'], keypoints=flat))
    return images, annotations


def generate_dataset(out_dir, num_train, num_val, seed=0, image_size=DEFAULT_IMAGE_SIZE,
                     workers=1, config=None):
    """Write the train and val splits under ``out_dir``; returns a dict of statistics
    (paths, image/person counts, seconds, images/s, fraction of multi-person images with
    a pair of boxes of IoU >= 0.4, fraction of labelled joints that are occluded).

    Raises ValueError for bad arguments or an unwritable ``out_dir``.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    for n in (num_train, num_val):
        _check_args(n, seed, image_size, workers)
    _prepare_dir(out_dir)
    t0 = time.perf_counter()
    pool = None
    if workers > 1 and num_train + num_val > 1:
        pool = _make_pool(workers)
    try:
        paths = {split: generate_split(out_dir, split, n, seed, image_size, workers, config,
                                       pool)
                 for split, n in (('train', num_train), ('val', num_val))}
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    seconds = time.perf_counter() - t0
    stats = dict(paths=paths, seconds=seconds, num_images=num_train + num_val,
                 images_per_second=(num_train + num_val) / max(seconds, 1e-9))
    for split, path in paths.items():
        with open(path) as f:
            data = json.load(f)
        v = np.array([a['keypoints'][2::3] for a in data['annotations']]).reshape(-1)
        stats[split] = dict(images=len(data['images']), people=len(data['annotations']),
                            overlap_pair_fraction=overlap_pair_fraction(data),
                            occluded_fraction=float((v == 1).sum() / max((v > 0).sum(), 1)))
    return stats


# ---------------------------------------------------------------------------------------
# Statistics.

def overlap_pair_fraction(data, iou=0.4):
    """Fraction of the images with >= 2 people of a COCO dict that contain a pair of
    person boxes with IoU >= ``iou`` (NaN without such images)."""
    boxes = {}
    for a in data['annotations']:
        boxes.setdefault(a['image_id'], []).append(a['bbox'])
    multi = [b for b in boxes.values() if len(b) >= 2]
    if not multi:
        return float('nan')
    hit = sum(bool(np.any(np.triu(box_iou_matrix(bs), k=1) >= iou)) for bs in multi)
    return hit / len(multi)


def max_iou_per_person(data):
    """MaxIoU of every non-crowd person of a COCO dict: the largest IoU of its box with the
    box of another non-crowd person of the same image (0 when alone), as in OCHuman.

    Returns:
        dict {annotation id: MaxIoU (float)}.
    """
    by_image = {}
    for a in data['annotations']:
        if a.get('category_id', 1) == 1 and not a.get('iscrowd', 0):
            by_image.setdefault(a['image_id'], []).append(a)
    out = {}
    for anns in by_image.values():
        for a, v in zip(anns, _max_ious([a['bbox'] for a in anns])):
            out[a['id']] = float(v)
    return out


def crowd_statistics(data, bins=10):
    """Occlusion statistics of a COCO keypoint dict (a synthetic split or a real dataset).

    Returns:
        dict: 'images', 'people' (non-crowd), 'people_per_image' (mean over all images),
        'people_histogram' {people in the image: images}, 'mean_max_iou' and
        'min_max_iou' over the people (NaN without people), 'overlapping_fraction' (people
        with MaxIoU >= 0.5), 'max_iou_histogram' (``bins`` counts over [0, 1]; MaxIoU 1.0
        falls in the last bin), 'occluded_joint_fraction' (v = 1 among the labelled joints).
    """
    max_iou = np.array(list(max_iou_per_person(data).values()), dtype=np.float64)
    per_image = {im['id']: 0 for im in data['images']}
    labels = []
    for a in data['annotations']:
        if a.get('category_id', 1) == 1 and not a.get('iscrowd', 0):
            per_image[a['image_id']] = per_image.get(a['image_id'], 0) + 1
            labels.append(np.asarray(a.get('keypoints', []), dtype=np.float64)[2::3])
    v = np.concatenate(labels) if labels else np.zeros(0)
    counts = np.bincount(list(per_image.values())) if per_image else np.zeros(0, int)
    hist, _ = np.histogram(np.clip(max_iou, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    people = len(max_iou)
    return dict(images=len(per_image), people=people,
                people_per_image=people / max(len(per_image), 1),
                people_histogram={n: int(c) for n, c in enumerate(counts) if c},
                mean_max_iou=float(max_iou.mean()) if people else float('nan'),
                min_max_iou=float(max_iou.min()) if people else float('nan'),
                overlapping_fraction=float((max_iou >= 0.5).mean()) if people else float('nan'),
                max_iou_histogram=[int(c) for c in hist],
                occluded_joint_fraction=float((v == 1).sum() / max((v > 0).sum(), 1)))


def crowd_statistics_table(rows):
    """Markdown table of :func:`crowd_statistics` results side by side.

    Args:
        rows: list of (name, statistics dict); a dict may lack keys (e.g. the published
            OCHuman figures have no histogram): those cells read 'n/a'.
    """
    def cell(stats, key, fmt):
        value = stats.get(key)
        return 'n/a' if value is None else fmt(value)

    pct = '{:.1%}'.format
    lines = ['| | images | people | people / image | mean MaxIoU | min MaxIoU | '
             'MaxIoU >= 0.5 | occluded joints | MaxIoU histogram (0-0.1, ..., 0.9-1) |',
             '|---|---|---|---|---|---|---|---|---|']
    for name, st in rows:
        lines.append('| ' + ' | '.join([
            name, cell(st, 'images', str), cell(st, 'people', str),
            cell(st, 'people_per_image', '{:.2f}'.format),
            cell(st, 'mean_max_iou', '{:.3f}'.format), cell(st, 'min_max_iou', '{:.3f}'.format),
            cell(st, 'overlapping_fraction', pct), cell(st, 'occluded_joint_fraction', pct),
            cell(st, 'max_iou_histogram', lambda h: ' '.join(map(str, h)))]) + ' |')
    return '\n'.join(lines)


def statistics_rows(data_dir, splits, ochuman_json=None):
    """Rows for :func:`crowd_statistics_table`: the :func:`crowd_statistics` of ``splits`` of
    the dataset under ``data_dir``, OCHuman's published figures and, if given, those of a
    real OCHuman annotation file (COCO format).

    Returns:
        list of (name, statistics dict).
    """
    rows = []
    for split in splits:
        path = os.path.join(data_dir, 'annotations', f'person_keypoints_{split}.json')
        with open(path) as f:
            rows.append((f'synthetic {split}', crowd_statistics(json.load(f))))
    rows.append(('OCHuman, published (its people with IoU > 0.5)', OCHUMAN_PUBLISHED))
    if ochuman_json:
        with open(ochuman_json) as f:
            rows.append((f'OCHuman file {os.path.basename(ochuman_json)}',
                         crowd_statistics(json.load(f))))
    return rows
