"""Scene layout and rendering of one synthetic image with its COCO-style annotations."""
import cv2
import numpy as np

from mipnet.utils.boxes import box_iou_matrix

from .body import JOINT_OWNER_TABLE, NUM_JOINTS, Figure
from .config import DEFAULT_IMAGE_SIZE, SyntheticConfig, image_seed
from .drawing import background, draw_labels, paint_person


def _sample_layout(rng, width, height, config):
    """Figures of one image, back to front, each placed in the image or onto an earlier
    figure (probability ``config.overlap_prob``)."""
    num_people = int(rng.choice(np.arange(1, len(config.people_probs) + 1),
                                p=config.people_probs))
    figures = []
    for i in range(num_people):
        if i > 0 and rng.random() < config.overlap_prob:
            anchor = figures[int(rng.integers(len(figures)))]
            body_height = anchor.height * rng.uniform(0.78, 1.25)
            figure = Figure(rng, body_height)
            ax0, ay0, ax1, ay1 = anchor.extent()
            extent = figure.extent()
            target = np.array([(ax0 + ax1) / 2 + rng.choice([-1, 1])
                               * rng.uniform(*config.overlap_shift) * (ax1 - ax0),
                               (ay0 + ay1) / 2 + rng.uniform(-0.12, 0.12) * (ay1 - ay0)])
            figure.translate(target - (extent[:2] + extent[2:]) / 2)
        else:
            body_height = height * rng.uniform(config.min_height, config.max_height)
            figure = Figure(rng, body_height)
            extent = figure.extent()
            box_w, box_h = extent[2] - extent[0], extent[3] - extent[1]
            center_x = rng.uniform(0.12 * width, 0.88 * width)
            lo, hi = -0.08 * box_h, height - 0.75 * box_h
            top = rng.uniform(min(lo, hi), max(lo, hi))
            figure.translate(np.array([center_x - box_w / 2, top]) - extent[:2])
        figures.append(figure)
    return [figures[k] for k in rng.permutation(num_people)]  # back to front


def _annotate(figures, width, height, config):
    """Label maps, keypoints (17, 3) and acceptance of each person (back to front)."""
    label_maps = [draw_labels(f, (height, width)) for f in figures]
    masks = [labels > 0 for labels in label_maps]
    in_front = [None] * len(figures)  # pixels covered by the people in front of each
    union = np.zeros((height, width), dtype=bool)
    for i in range(len(figures) - 1, -1, -1):
        in_front[i] = union.copy()
        union |= masks[i]
    people = []
    min_area = max(40.0, 150.0 * (height / 192.0) ** 2)
    for i, figure in enumerate(figures):
        keypoints = np.zeros((NUM_JOINTS, 3))
        for joint, (x, y) in enumerate(figure.joints):
            if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
                continue
            ix, iy = int(round(x)), int(round(y))
            hidden = (figure.hidden[joint] or not JOINT_OWNER_TABLE[joint, label_maps[i][iy, ix]]
                      or in_front[i][iy, ix])
            keypoints[joint] = (x, y, 1 if hidden else 2)
        seen = masks[i] & ~in_front[i]  # COCO boxes and areas follow the visible pixels
        full = int(masks[i].sum())
        visible = int(seen.sum())
        ok = (full >= min_area and visible >= config.min_visible_fraction * full
              and int((keypoints[:, 2] == 2).sum()) >= config.min_visible_joints)
        people.append(dict(keypoints=keypoints, mask=masks[i], visible_mask=seen,
                           full_area=full, visible_area=visible, ok=ok))
    return label_maps, people


def render_image(seed, split, index, image_size=DEFAULT_IMAGE_SIZE, config=None):
    """Render one image of the dataset.

    Returns ``(image, people)``: a uint8 BGR image of ``image_size`` (width, height) and,
    back to front, one dict per person with ``keypoints`` (17, 3) float array (v=0 rows are
    zero), ``bbox`` [x, y, w, h] and ``area`` of the visible pixels, ``full_bbox`` and
    ``full_area`` of the whole drawn body (hidden parts included) and ``num_keypoints``.
    """
    config = config or SyntheticConfig()
    width, height = int(image_size[0]), int(image_size[1])
    rng = np.random.default_rng(image_seed(seed, split, index))
    for _ in range(config.max_attempts):
        figures = _sample_layout(rng, width, height, config)
        label_maps, people = _annotate(figures, width, height, config)
        if (all(p['ok'] for p in people)
                and overlapping(people, config.min_max_iou).all()):
            break
    else:  # drop the insufficiently visible people, then the not overlapping ones
        while figures and not all(p['ok'] for p in people):
            k = next(i for i, p in enumerate(people) if not p['ok'])
            figures.pop(k)
            label_maps, people = _annotate(figures, width, height, config)
        while figures and not overlapping(people, config.min_max_iou).all():
            figures.pop(int(np.argmin(overlapping(people, config.min_max_iou))))
            label_maps, people = _annotate(figures, width, height, config)
    canvas = background(rng, width, height)
    for labels in label_maps:
        paint_person(canvas, labels, rng)
    # Global photometric variation.
    canvas = canvas * rng.uniform(0.85, 1.15) + rng.uniform(-15, 15)
    if rng.random() < 0.4:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 0.8))
    canvas += rng.uniform(1, 5) * rng.standard_normal(canvas.shape, dtype=np.float32)
    image = np.clip(np.round(canvas), 0, 255).astype(np.uint8)

    out = []
    for p in people:
        keypoints = p['keypoints']
        out.append(dict(keypoints=keypoints, bbox=mask_box(p['visible_mask']),
                        area=float(p['visible_area']), full_bbox=mask_box(p['mask']),
                        full_area=float(p['full_area']),
                        num_keypoints=int((keypoints[:, 2] > 0).sum())))
    return image, out


def overlapping(people, min_iou):
    """(P,) bool: the visible box of each person has IoU >= ``min_iou`` with another's
    (all True when ``min_iou`` is 0)."""
    if min_iou <= 0:
        return np.ones(len(people), dtype=bool)
    if len(people) < 2:
        return np.zeros(len(people), dtype=bool)
    return max_ious([mask_box(p['visible_mask']) for p in people]) >= min_iou


def max_ious(boxes):
    """(P,) MaxIoU of each ``[x, y, w, h]`` box: its largest IoU with another box
    (0 for a single box)."""
    if len(boxes) < 2:
        return np.zeros(len(boxes))
    iou = box_iou_matrix(boxes)
    np.fill_diagonal(iou, 0.0)
    return iou.max(axis=1)


def mask_box(mask):
    """[x, y, w, h] (floats) of the pixels of a non-empty boolean mask."""
    ys, xs = np.nonzero(mask)
    x0, y0 = xs.min(), ys.min()
    return [float(x0), float(y0), float(xs.max() + 1 - x0), float(ys.max() + 1 - y0)]
