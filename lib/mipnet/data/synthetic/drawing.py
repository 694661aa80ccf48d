"""Drawing of the synthetic scenes: a person's label map (one part id per pixel), its
colours and textures, and the cluttered background."""
import cv2
import numpy as np

from .body import (EAR, EYE, HAIR, HEAD_SKIN, L_EAR, L_EYE, L_FOREARM, L_HAND, L_SHIN, MARKER,
                   MOUTH, NECK, NOSE, NOSE_JOINT, NUM_LABELS, R_EAR, R_EYE, R_FOREARM, R_HAND,
                   R_SHIN, SHIRT_LABELS, SIDE_JOINTS, SIDE_LABELS, TORSO, TROUSER_LABELS)

# OpenCV draws with sub-pixel precision when given fixed-point coordinates: this many
# fractional bits, i.e. coordinates multiplied by SUBPIXEL_SCALE.
SUBPIXEL_BITS = 4
SUBPIXEL_SCALE = 1 << SUBPIXEL_BITS

MARKER_SCALE = 0.32  # radius of a joint marker relative to the limb width

_SKIN_TONES = np.array([[189, 224, 255], [150, 190, 235], [120, 165, 215], [90, 135, 190],
                        [65, 100, 150], [45, 70, 110]], dtype=np.float32)  # BGR


def _fixed_point(point):
    return (int(round(point[0] * SUBPIXEL_SCALE)), int(round(point[1] * SUBPIXEL_SCALE)))


def _disc(img, center, radius, value):
    cv2.circle(img, _fixed_point(center), max(1, int(round(radius * SUBPIXEL_SCALE))),
               int(value), -1, cv2.LINE_8, SUBPIXEL_BITS)


def _capsule(img, p1, p2, width1, width2, value):
    """Tapered limb from ``p1`` (width ``width1``) to ``p2`` (width ``width2``) with round
    ends."""
    p1, p2 = np.asarray(p1, float), np.asarray(p2, float)
    d = p2 - p1
    length = np.hypot(*d)
    if length > 1e-6:
        normal = np.array([-d[1], d[0]]) / length
        poly = np.array([p1 + normal * width1 / 2, p2 + normal * width2 / 2,
                         p2 - normal * width2 / 2, p1 - normal * width1 / 2])
        cv2.fillConvexPoly(img, np.round(poly * SUBPIXEL_SCALE).astype(np.int32), int(value),
                           cv2.LINE_8, SUBPIXEL_BITS)
    _disc(img, p1, width1 / 2, value)
    _disc(img, p2, width2 / 2, value)


def _ellipse(img, center, axes, angle, value):
    cv2.ellipse(img, _fixed_point(center), (max(1, int(round(axes[0] * SUBPIXEL_SCALE))),
                                            max(1, int(round(axes[1] * SUBPIXEL_SCALE)))),
                float(angle), 0, 360, int(value), -1, cv2.LINE_8, SUBPIXEL_BITS)


def draw_labels(figure, shape):
    """Label map (uint8, ``shape``) of one :class:`~.body.Figure`: part ids in drawing
    order."""
    labels = np.zeros(shape, dtype=np.uint8)
    joints, sizes, body_height = figure.joints, figure.sizes, figure.height

    for s in figure.side_order:  # legs, far side first
        upper_arm, forearm, hand, thigh, shin, foot = SIDE_LABELS[s]
        shoulder, elbow, wrist, hip, knee, ankle = SIDE_JOINTS[s]
        _capsule(labels, joints[hip], joints[knee], sizes['thigh_width'][0],
                 sizes['thigh_width'][1], thigh)
        _capsule(labels, joints[knee], joints[ankle], sizes['shin_width'][0],
                 sizes['shin_width'][1], shin)
        _disc(labels, joints[knee], sizes['thigh_width'][1] * MARKER_SCALE, MARKER + knee)
        toe = joints[ankle] + np.array([figure.forward * sizes['foot_length'] * (
            0.35 + 0.65 * abs(np.sin(np.deg2rad(figure.yaw)))), 0.015 * body_height])
        _capsule(labels, joints[ankle], toe, sizes['foot_width'], sizes['foot_width'] * 0.9,
                 foot)
        _disc(labels, joints[ankle], sizes['shin_width'][1] * MARKER_SCALE, MARKER + ankle)

    # Torso polygon.
    shoulder_corners = [joints[SIDE_JOINTS[s][0]]
                        + figure.lateral * figure.outward[s] * sizes['upper_arm_width'][0] * 0.3
                        + figure.up * 0.015 * body_height for s in range(2)]
    hip_corners = [joints[SIDE_JOINTS[s][3]]
                   + figure.lateral * figure.outward[s] * sizes['thigh_width'][0] * 0.45
                   - figure.up * 0.015 * body_height for s in range(2)]
    middle = (figure.neck + figure.pelvis) / 2
    waist = [middle + figure.lateral * figure.outward[s]
             * (sizes['shoulder_width'] + sizes['hip_width']) / 4
             * figure.width_factor * 0.92 for s in range(2)]
    poly = np.array([shoulder_corners[0], shoulder_corners[1], waist[1], hip_corners[1],
                     hip_corners[0], waist[0]])
    cv2.fillPoly(labels, [np.round(poly * SUBPIXEL_SCALE).astype(np.int32)], int(TORSO),
                 cv2.LINE_8, SUBPIXEL_BITS)
    for s in range(2):
        hip = SIDE_JOINTS[s][3]
        _disc(labels, joints[hip], sizes['thigh_width'][0] * MARKER_SCALE, MARKER + hip)

    # Neck, head, face.
    rx, ry = figure.head_radius_x, figure.head_radius_y
    _capsule(labels, figure.neck - figure.up * 0.01 * body_height, figure.head_center,
             sizes['neck_width'], sizes['neck_width'], NECK)
    head = np.zeros(shape, dtype=np.uint8)
    _ellipse(head, figure.head_center, (rx, ry), figure.tilt, 1)
    labels[head > 0] = HAIR
    head_cos = np.cos(np.deg2rad(figure.head_yaw))
    head_sin = np.sin(np.deg2rad(figure.head_yaw))
    if head_cos > -0.05:
        face = np.zeros(shape, dtype=np.uint8)
        _ellipse(face, figure.head_point((rx * 0.45 * head_sin, ry * 0.18)),
                 (rx * (0.6 + 0.3 * max(head_cos, 0)), ry * 0.8), figure.tilt, 1)
        labels[(face > 0) & (head > 0)] = HEAD_SKIN
    eye_radius = max(0.7, 0.14 * rx)
    for joint in (L_EYE, R_EYE):
        if not figure.hidden[joint]:
            _disc(labels, joints[joint], eye_radius, EYE)
    if not figure.hidden[NOSE_JOINT]:
        _disc(labels, joints[NOSE_JOINT], max(0.8, 0.16 * rx), NOSE)
        if head_cos > 0.3:
            mouth = figure.head_point((rx * 0.75 * head_sin, ry * 0.5))
            half = np.array([rx * 0.25 * head_cos, 0.0])
            _capsule(labels, mouth - half, mouth + half, eye_radius, eye_radius, MOUTH)
    for joint in (L_EAR, R_EAR):
        if not figure.hidden[joint]:
            _ellipse(labels, joints[joint], (0.17 * rx, 0.26 * ry), figure.tilt, EAR)

    # Arms (in front of the torso), far side first.
    for s in figure.side_order:
        upper_arm, forearm, hand, thigh, shin, foot = SIDE_LABELS[s]
        shoulder, elbow, wrist, hip, knee, ankle = SIDE_JOINTS[s]
        _capsule(labels, joints[shoulder], joints[elbow], sizes['upper_arm_width'][0],
                 sizes['upper_arm_width'][1], upper_arm)
        _disc(labels, joints[shoulder], sizes['upper_arm_width'][0] * MARKER_SCALE,
              MARKER + shoulder)
        _capsule(labels, joints[elbow], joints[wrist], sizes['forearm_width'][0],
                 sizes['forearm_width'][1], forearm)
        _disc(labels, joints[elbow], sizes['upper_arm_width'][1] * MARKER_SCALE,
              MARKER + elbow)
        _disc(labels, joints[wrist] + figure.forearm_dir[s] * sizes['hand_radius'] * 0.8,
              sizes['hand_radius'], hand)
        _disc(labels, joints[wrist], sizes['forearm_width'][1] * MARKER_SCALE, MARKER + wrist)
    return labels


def _random_color(rng, saturation=(0.3, 1.0), value=(0.25, 1.0)):
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255,
                      rng.uniform(*value) * 255]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _palette(rng):
    """(NUM_LABELS, 3) BGR colours of one person's parts, long sleeves, long trousers."""
    palette = np.zeros((NUM_LABELS, 3), dtype=np.float32)
    shirt = _random_color(rng)
    trousers = _random_color(rng, saturation=(0.1, 0.9), value=(0.15, 0.85))
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.08, 3)
    hair = _random_color(rng, saturation=(0.2, 0.8), value=(0.05, 0.45))
    shoes = _random_color(rng, saturation=(0.0, 0.6), value=(0.05, 0.6))
    long_sleeves = rng.random() < 0.5
    long_trousers = rng.random() < 0.75
    lower = 0.84  # lower limb segments are darker than upper ones
    left = 0.78  # the person's left limbs are darker than the right ones
    palette[TORSO] = shirt
    palette[NECK] = skin * 0.9
    palette[HEAD_SKIN] = skin
    palette[HAIR] = hair
    palette[EYE] = (25, 25, 25)
    palette[NOSE] = skin * np.array([0.55, 0.55, 0.8])
    palette[MOUTH] = (40, 40, 150)
    palette[EAR] = skin * 0.8
    for s, shade in ((0, left), (1, 1.0)):
        upper_arm, forearm, hand, thigh, shin, foot = SIDE_LABELS[s]
        palette[upper_arm] = shirt * 0.95 * shade
        palette[forearm] = (shirt if long_sleeves else skin) * lower * shade
        palette[hand] = skin * 0.92 * shade
        palette[thigh] = trousers * shade
        palette[shin] = (trousers if long_trousers else skin) * lower * shade
        palette[foot] = shoes * shade
        shoulder, elbow, wrist, hip, knee, ankle = SIDE_JOINTS[s]
        for joint, limb in ((shoulder, upper_arm), (elbow, upper_arm), (wrist, forearm),
                            (hip, thigh), (knee, thigh), (ankle, shin)):
            palette[MARKER + joint] = palette[limb] * 0.5 + 10
    return np.clip(palette, 0, 255), long_sleeves, long_trousers


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
    grid_h, grid_w = max(2, h // 6), max(2, w // 6)
    blotches = rng.normal(0, 1, (grid_h, grid_w)).astype(np.float32)
    blotches = cv2.resize(blotches, (w, h), interpolation=cv2.INTER_LINEAR)
    return (1 + amp * np.clip(blotches, -1.5, 1.5)).astype(np.float32)


def paint_person(canvas, labels, rng):
    """Paint one person's label map onto ``canvas`` (float32 BGR, in place)."""
    palette, long_sleeves, long_trousers = _palette(rng)
    rows = np.flatnonzero(labels.any(axis=1))
    cols = np.flatnonzero(labels.any(axis=0))
    if rows.size == 0:
        return
    height, width = labels.shape
    y0, y1 = max(rows[0] - 1, 0), min(rows[-1] + 2, height)
    x0, x1 = max(cols[0] - 1, 0), min(cols[-1] + 2, width)
    crop = labels[y0:y1, x0:x1]
    shape = crop.shape
    # Texture group of each label: 0 none, 1 shirt, 2 trousers, 3 skin.
    group = np.zeros(NUM_LABELS, dtype=np.uint8)
    shirt = list(SHIRT_LABELS) + ([L_FOREARM, R_FOREARM] if long_sleeves else [])
    trousers = list(TROUSER_LABELS) + ([L_SHIN, R_SHIN] if long_trousers else [])
    group[shirt] = 1
    group[trousers] = 2
    group[[NECK, HEAD_SKIN, L_HAND, R_HAND, EAR]
          + ([] if long_sleeves else [L_FOREARM, R_FOREARM])
          + ([] if long_trousers else [L_SHIN, R_SHIN])] = 3
    textures = np.stack([np.ones(shape, np.float32), _texture(rng, shape),
                         _texture(rng, shape, (0.05, 0.2)),
                         1 + 0.03 * rng.standard_normal(shape, dtype=np.float32)])
    shading = np.choose(group[crop], textures)
    colors = palette[crop] * shading[..., None]
    edge = np.zeros(shape, dtype=bool)
    edge[:, 1:] |= crop[:, 1:] != crop[:, :-1]
    edge[:, :-1] |= crop[:, 1:] != crop[:, :-1]
    edge[1:] |= crop[1:] != crop[:-1]
    edge[:-1] |= crop[1:] != crop[:-1]
    edge &= (crop > 0) & (crop < EYE)  # outline the body parts (not the small face marks)
    colors[edge] *= 0.62
    mask = crop > 0
    region = canvas[y0:y1, x0:x1]
    region[mask] = colors[mask]


def background(rng, width, height):
    """Float32 BGR (height, width, 3) background: gradient, blotches, texture noise and
    clutter shapes."""
    c1, c2 = rng.uniform(15, 240, (2, 3)).astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    t = (np.arange(width, dtype=np.float32)[None] * np.float32(np.cos(a))
         + np.arange(height, dtype=np.float32)[:, None] * np.float32(np.sin(a)))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    bg = c1 + (c2 - c1) * t[..., None]
    grid_h, grid_w = rng.integers(2, 7, 2)
    blobs = rng.uniform(-70, 70, (grid_h, grid_w, 3)).astype(np.float32)
    bg += cv2.resize(blobs, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(0.2, 1.0)
    if rng.random() < 0.5:  # fine grain
        grain = rng.uniform(3, 12) * rng.standard_normal((height // 2 + 1, width // 2 + 1),
                                                         dtype=np.float32)
        bg += cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    side = min(width, height)
    for _ in range(int(rng.integers(2, 13))):
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        kind = rng.integers(6)
        x, y = rng.uniform(-0.1 * width, 1.1 * width), rng.uniform(-0.1 * height, 1.1 * height)
        if kind == 0:  # filled rectangle
            w, h = rng.uniform(0.05, 0.5, 2) * side
            cv2.rectangle(bg, (int(x), int(y)), (int(x + w), int(y + h)), color, -1)
        elif kind == 1:  # rectangle outline
            w, h = rng.uniform(0.05, 0.5, 2) * side
            cv2.rectangle(bg, (int(x), int(y)), (int(x + w), int(y + h)), color,
                          int(rng.integers(1, 4)))
        elif kind == 2:  # line
            x2, y2 = rng.uniform(0, width), rng.uniform(0, height)
            cv2.line(bg, (int(x), int(y)), (int(x2), int(y2)), color, int(rng.integers(1, 5)),
                     cv2.LINE_AA)
        elif kind == 3:  # circle
            cv2.circle(bg, (int(x), int(y)), int(rng.uniform(0.02, 0.2) * side), color,
                       int(rng.choice([-1, 1, 2])), cv2.LINE_AA)
        elif kind == 4:  # ellipse
            cv2.ellipse(bg, (int(x), int(y)), (int(rng.uniform(0.03, 0.25) * side),
                                               int(rng.uniform(0.03, 0.25) * side)),
                        float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        else:  # a limb-like bar (distractor)
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.1, 0.35) * side
            cv2.line(bg, (int(x), int(y)),
                     (int(x + length * np.cos(angle)), int(y + length * np.sin(angle))),
                     color, int(max(2, rng.uniform(0.02, 0.06) * side)), cv2.LINE_AA)
    return bg
