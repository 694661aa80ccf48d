"""Drawing primitives: skeletons of the COCO / CrowdPose / OCHuman layouts, person boxes,
image and heatmap grids.

Everything works on OpenCV BGR ``uint8`` images of shape (H, W, 3) and NumPy arrays (the
torch-aware training debug images are in :mod:`mipnet.vis.debug`).

Drawing conventions:

* every pose gets its own colour (:func:`pose_color`);
* joint confidence sets the marker radius (confident joints are drawn bigger);
* primary poses (instance k = 0) have filled joints and a solid box; secondary poses
  (k >= 1, the other people MIPNet finds in a box) have hollow joints, a dashed box and a
  ``k=<k>`` label;
* labels sit beside their box and move when they would cover another label
  (:func:`layout_labels`); a legend strip under the picture says what k = 0 and k >= 1 mean;
* small images are drawn upscaled (:func:`draw_scale`: the shorter side to at least 512
  px), coordinates stay in image pixels.
"""
import math

import cv2
import numpy as np

__all__ = ['pose_color', 'draw_box', 'draw_pose', 'draw_poses', 'draw_annotations',
           'make_grid', 'joint_grid', 'heatmap_grid', 'draw_scale', 'layout_labels',
           'legend_strip', 'MIN_DRAW_SIDE']

#: the shorter side, in pixels, that :func:`draw_scale` upscales small images to
MIN_DRAW_SIDE = 512

_GOLDEN = 0.618033988749895
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def pose_color(index):
    """Distinct, saturated BGR colour (tuple of 3 ints) of pose number ``index``.

    Hues follow the golden-ratio sequence, so neighbouring indices differ strongly.
    """
    hue = int(((index * _GOLDEN + 0.05) % 1.0) * 180)  # OpenCV hue range [0, 180)
    hsv = np.array([[[hue, 230, 255]]], dtype=np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def _default_radius(img):
    return max(2, int(round(0.006 * max(img.shape[:2]))))


def _dashed_line(img, p0, p1, color, thickness, dash):
    p0 = np.asarray(p0, dtype=np.float64)
    p1 = np.asarray(p1, dtype=np.float64)
    length = float(np.hypot(*(p1 - p0)))
    if length < 1:
        return
    steps = max(1, int(length // dash))
    for i in range(0, steps, 2):
        a = p0 + (p1 - p0) * (i / steps)
        b = p0 + (p1 - p0) * (min(i + 1, steps) / steps)
        cv2.line(img, tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b), color,
                 thickness, cv2.LINE_AA)


def draw_box(img, box, color, dashed=False, label=None, thickness=None):
    """Draw a box in place.

    Args:
        img: BGR uint8 (H, W, 3), modified in place.
        box: (4,) [x, y, w, h] in pixels.
        color: BGR tuple.
        dashed: dashed outline (secondary instances) instead of a solid one.
        label: optional text written above the box's top-left corner.
        thickness: line width in pixels (default from the image size).

    Returns:
        ``img``.
    """
    x, y, w, h = (float(v) for v in box)
    thickness = thickness or max(1, _default_radius(img) // 2)
    x0, y0 = int(round(x)), int(round(y))
    x1, y1 = int(round(x + w)), int(round(y + h))
    if dashed:
        dash = max(4, 3 * thickness)
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        for i in range(4):
            _dashed_line(img, corners[i], corners[(i + 1) % 4], color, thickness, dash)
    else:
        cv2.rectangle(img, (x0, y0), (x1, y1), color, thickness, cv2.LINE_AA)
    if label:
        _put_label(img, label, (x0, y0), color)
    return img


def _label_scale(img):
    """Font scale of labels on ``img`` (0.35 up to 1200 px, 0.57 at 683 px, at most 1)."""
    return max(0.35, min(1.0, max(img.shape[:2]) / 1200.0))


def _label_size(text, scale):
    """(width, height) in pixels of the filled label rectangle of ``text``."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    return tw + 4, th + base + 4


def _text_color(color):
    luminance = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    return (0, 0, 0) if luminance > 128 else (255, 255, 255)


def _draw_label(img, text, rect, color, scale):
    """``text`` on a filled rectangle ``rect`` (x0, y0, x1, y1) of ``color``."""
    x0, y0, x1, y1 = (int(v) for v in rect)
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), color, -1)
    (_, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    cv2.putText(img, text, (x0 + 2, y0 + 2 + th), _FONT, scale, _text_color(color), 1,
                cv2.LINE_AA)


def _put_label(img, text, anchor, color):
    """Text on a filled background just above ``anchor`` (x, y), kept inside the image."""
    scale = _label_scale(img)
    w, h = _label_size(text, scale)
    x = int(np.clip(anchor[0], 0, max(0, img.shape[1] - w)))
    y = int(np.clip(anchor[1] - h, 0, max(0, img.shape[0] - h)))
    _draw_label(img, text, (x, y, x + w, y + h), color, scale)


def _overlap(a, b):
    """Whether rectangles (x0, y0, x1, y1) share area (touching edges do not)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout_labels(anchors, sizes, image_size):
    """Places for labels beside their boxes, none covering another.

    Each label in turn (the first keeps its favourite place) takes the first free place of:
    above its box (left, then right end), below it, at its right and left sides, inside its
    top and bottom edges, then these places moved up and down in steps of its height, then
    the free place of a grid over the image nearest to its box. A place is free when it is
    inside the image and shares no area with a label placed before. Only an image too
    small for all its labels gets one that overlaps (the place overlapping least).

    Args:
        anchors: (N, 4) boxes (x0, y0, x1, y1) the labels belong to, drawing pixels.
        sizes: (N, 2) label (width, height) in pixels.
        image_size: (width, height) of the drawing.

    Returns:
        list of N rectangles (x0, y0, x1, y1), ints.
    """
    width, height = int(image_size[0]), int(image_size[1])
    placed = []
    for (bx0, by0, bx1, by1), (w, h) in zip(np.asarray(anchors, dtype=np.float64).reshape(-1, 4),
                                           np.asarray(sizes, dtype=np.int64).reshape(-1, 2)):
        w, h = int(min(w, width)), int(min(h, height))
        bx0, by0, bx1, by1 = (int(round(v)) for v in (bx0, by0, bx1, by1))
        spots = [(bx0, by0 - h), (bx1 - w, by0 - h), (bx0, by1), (bx1 - w, by1),
                 (bx1, by0), (bx0 - w, by0), (bx0, by0), (bx0, by1 - h)]
        spots += [(x, y + sign * step * h) for step in range(1, 6) for x, y in spots[:6]
                  for sign in (-1, 1)]

        def rect(x, y):
            x = int(np.clip(x, 0, width - w))
            y = int(np.clip(y, 0, height - h))
            return (x, y, x + w, y + h)

        def free(r):
            return not any(_overlap(r, q) for q in placed)

        chosen = next((r for r in (rect(x, y) for x, y in spots) if free(r)), None)
        if chosen is None:
            grid = [rect(x, y) for y in range(0, max(1, height - h + 1), max(1, h // 2))
                    for x in range(0, max(1, width - w + 1), max(1, w // 4))]
            free_grid = [r for r in grid if free(r)]
            if free_grid:
                chosen = min(free_grid, key=lambda r: (r[0] - bx0) ** 2 + (r[1] - by0 + h) ** 2)
            else:
                chosen = min(grid or [rect(bx0, by0 - h)], key=lambda r: sum(
                    max(0, min(r[2], q[2]) - max(r[0], q[0])) *
                    max(0, min(r[3], q[3]) - max(r[1], q[1])) for q in placed))
        placed.append(chosen)
    return placed


def draw_pose(img, keypoints, skeleton, color, secondary=False, kpt_thre=0.0, radius=None,
              thickness=None):
    """Draw one pose in place.

    Args:
        img: BGR uint8 (H, W, 3), modified in place.
        keypoints: (J, 2) or (J, 3) array of x, y[, confidence]; without a confidence
            column every joint counts as confidence 1.
        skeleton: sequence of (a, b) 0-based joint index pairs (``KeypointMeta.skeleton``),
            or None for joints only.
        color: BGR tuple of this pose.
        secondary: draw the joints hollow (instance k >= 1).
        kpt_thre: joints with confidence <= ``kpt_thre`` (and limbs touching them) are not
            drawn; non-finite coordinates are never drawn.
        radius: marker radius of a joint of confidence 1 (default from the image size);
            a joint of confidence c gets ``radius * (0.4 + 0.6 * clip(c, 0, 1))``.
        thickness: limb width (default ``radius // 2``).

    Returns:
        ``img``.
    """
    kpts = np.asarray(keypoints, dtype=np.float64)
    if kpts.ndim != 2 or kpts.shape[1] not in (2, 3):
        raise ValueError(f'keypoints must be (J, 2) or (J, 3), got shape {kpts.shape}')
    conf = kpts[:, 2] if kpts.shape[1] == 3 else np.ones(len(kpts))
    xy = kpts[:, :2]
    shown = np.isfinite(xy).all(axis=1) & np.isfinite(conf) & (conf > kpt_thre)
    radius = radius or _default_radius(img)
    thickness = thickness or max(1, radius // 2)
    pts = np.zeros((len(kpts), 2), dtype=np.int64)
    pts[shown] = np.round(xy[shown]).astype(np.int64)
    for a, b in skeleton or ():
        if a < len(kpts) and b < len(kpts) and shown[a] and shown[b]:
            cv2.line(img, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), color,
                     thickness, cv2.LINE_AA)
    for j in np.flatnonzero(shown):
        r = max(1, int(round(radius * (0.4 + 0.6 * float(np.clip(conf[j], 0.0, 1.0))))))
        center = tuple(int(v) for v in pts[j])
        if secondary:
            cv2.circle(img, center, r, color, max(1, r // 3), cv2.LINE_AA)
        else:
            cv2.circle(img, center, r, color, -1, cv2.LINE_AA)
            if r >= 4:  # a thin light rim keeps big markers visible on busy images
                cv2.circle(img, center, r + 1, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def draw_scale(image_shape, min_side=MIN_DRAW_SIDE):
    """Factor that upscales an image of shape (H, W, ...) so that its shorter side is at
    least ``min_side`` pixels (1.0 when it already is): small images get legible labels
    and markers."""
    shorter = min(int(image_shape[0]), int(image_shape[1]))
    return max(1.0, float(min_side) / max(1, shorter))


def _legend_sample(img, x, y, color, secondary, radius, thickness):
    """Two joints and their limb in the style of a k = 0 (filled) or k >= 1 (hollow) pose
    from (x, y), 48 px long; returns its right end."""
    joints = np.array([[x + radius + 1, y, 1.0], [x + 48 - radius - 1, y, 1.0]])
    draw_pose(img, joints, [(0, 1)], color, secondary=secondary, radius=radius,
              thickness=thickness)
    return x + 48


def legend_strip(width, instances, scale):
    """The legend drawn under a picture: what k = 0 and k >= 1 poses look like and mean.

    Args:
        width: width of the picture, pixels.
        instances: the instance indices the picture's model runs (an entry for k >= 1 only
            when there is one).
        scale: font scale of the labels (:func:`_label_scale`).

    Returns:
        BGR uint8 (h, ``width``, 3) on white; the entries side by side where they fit,
        else one per row, and shrunk as a whole when the widest does not fit ``width``.
    """
    later = sorted(k for k in instances if k >= 1)
    entries = [(False, "k=0: the box's own person")]
    if later:
        which = f'k={later[0]}' if len(later) == 1 else f'k={later[0]}..{later[-1]}'
        entries.append((True, f'{which}: another person in that box (hollow, dashed)'))
    entries.append((None, 'label: b<box> k=<instance> <score>'))
    _, row_h = _label_size('Ag', scale)
    row_h += 4
    radius = max(3, row_h // 4)
    needs = [(54 if secondary is not None else 0) + cv2.getTextSize(text, _FONT, scale, 1)[0][0]
             + 18 for secondary, text in entries]
    canvas_w = max(width, max(needs) + 6)
    rows, x = [[]], 6
    for (secondary, text), need in zip(entries, needs):
        if x + need > canvas_w and rows[-1]:
            rows.append([])
            x = 6
        rows[-1].append((x, secondary, text))
        x += need
    strip = np.full((len(rows) * row_h + 6, canvas_w, 3), 255, np.uint8)
    grey = (90, 90, 90)
    for row, items in enumerate(rows):
        y = 3 + row * row_h + row_h // 2
        for x, secondary, text in items:
            if secondary is not None:
                x = _legend_sample(strip, x, y, grey, secondary, radius, max(1, radius // 2)) + 6
            (_, th), _ = cv2.getTextSize(text, _FONT, scale, 1)
            cv2.putText(strip, text, (x, y + th // 2), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    if canvas_w > width:
        height = max(1, int(round(strip.shape[0] * width / canvas_w)))
        strip = cv2.resize(strip, (width, height), interpolation=cv2.INTER_AREA)
    cv2.line(strip, (0, 0), (width - 1, 0), (200, 200, 200), 1)
    return strip


def _scaled_keypoints(kpts, scale):
    """Pixel-centre coordinates of a (J, 3) pose drawn ``scale`` times larger."""
    if scale == 1.0:
        return kpts
    out = kpts.copy()
    out[:, :2] = (out[:, :2] + 0.5) * scale - 0.5
    return out


def draw_poses(img, poses, skeleton, kpt_thre=0.0, boxes=None, draw_boxes=True, labels=None,
               scale=1.0, legend=None, return_layout=False):
    """Draw a list of poses (for instance the demo's merged results) on a copy of ``img``.

    Primary poses (k = 0) get filled joints and their person box, solid, in the pose colour;
    secondary poses (k >= 1) get hollow joints and a dashed box around their drawn joints
    (their input box belongs to another person). Every pose is labelled ``k=<k> <score>``
    beside its box; labels never cover each other (:func:`layout_labels`) and a thin line
    joins a label moved away from its box to it. Poses are drawn last-to-first, so the
    first (best) pose ends on top; labels are drawn after all poses, the first placed first.

    Args:
        img: BGR uint8 (H, W, 3); not modified.
        poses: list of dicts with 'keypoints' ((J, 3) array or flat list of 3J floats) and
            optionally 'instance' (int k, default 0), 'score' (float) and 'box'
            ([x, y, w, h], the box the pose was predicted from).
        skeleton: joint index pairs, see :func:`draw_pose`.
        kpt_thre: joint confidence threshold for drawing.
        boxes: optional (M, 4) [x, y, w, h] input boxes, drawn thin and grey underneath.
        draw_boxes: draw the pose boxes described above.
        labels: optional list of one label per pose, replacing ``k=<k> <score>``.
        scale: the drawing is this many times larger than ``img`` (coordinates stay in
            ``img``'s pixels; see :func:`draw_scale`).
        legend: None, or the instance indices the model runs: a legend strip
            (:func:`legend_strip`) is added under the picture.
        return_layout: also return the label rectangles.

    Returns:
        A new BGR uint8 image of ``scale`` times the size of ``img`` (plus the legend's
        height); with ``return_layout`` the pair (image, list of one (x0, y0, x1, y1) label
        rectangle per pose that has a label, in ``poses`` order).
    """
    scale = float(scale)
    if not scale > 0:
        raise ValueError(f'scale must be positive, got {scale}')
    out = np.ascontiguousarray(img, dtype=np.uint8)
    if scale != 1.0:
        size = (int(round(out.shape[1] * scale)), int(round(out.shape[0] * scale)))
        out = cv2.resize(out, size, interpolation=cv2.INTER_CUBIC)
    else:
        out = out.copy()
    for box in boxes if boxes is not None else ():
        draw_box(out, np.asarray(box, dtype=np.float64) * scale, (160, 160, 160), thickness=1)
    pending = {}
    for i in reversed(range(len(poses))):
        pose = poses[i]
        color = pose_color(i)
        kpts = _scaled_keypoints(np.asarray(pose['keypoints'], dtype=np.float64).reshape(-1, 3),
                                 scale)
        k = int(pose.get('instance', 0))
        draw_pose(out, kpts, skeleton, color, secondary=k >= 1, kpt_thre=kpt_thre)
        label = labels[i] if labels is not None else \
            f'k={k}' + (f' {pose["score"]:.2f}' if 'score' in pose else '')
        shown = kpts[np.isfinite(kpts).all(axis=1) & (kpts[:, 2] > kpt_thre), :2]
        if draw_boxes and k == 0 and pose.get('box') is not None:
            box = np.asarray(pose['box'], dtype=np.float64) * scale
            draw_box(out, box, color)
        elif len(shown):
            lo, hi = shown.min(axis=0), shown.max(axis=0)
            box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
            if draw_boxes:
                draw_box(out, box, color, dashed=True)
        else:
            continue
        if label:
            pending[i] = (label, color, (box[0], box[1], box[0] + box[2], box[1] + box[3]))
    order = sorted(pending)
    font = _label_scale(out)
    rects = layout_labels([pending[i][2] for i in order],
                          [_label_size(pending[i][0], font) for i in order],
                          (out.shape[1], out.shape[0]))
    for i, rect in zip(order, rects):
        text, color, anchor = pending[i]
        _draw_label(out, text, rect, color, font)
        _leader_line(out, rect, anchor, color)
    if legend is not None:
        out = np.concatenate([out, legend_strip(out.shape[1], legend, font)], axis=0)
    return (out, [tuple(r) for r in rects]) if return_layout else out


def _leader_line(img, rect, box, color):
    """A thin line from a label to its box when the label does not touch the box."""
    x0, y0, x1, y1 = rect
    bx0, by0, bx1, by1 = box
    gap_x = max(bx0 - x1, x0 - bx1, 0)
    gap_y = max(by0 - y1, y0 - by1, 0)
    if gap_x <= 2 and gap_y <= 2:
        return
    # nearest points of the two rectangles
    px = int(np.clip((x0 + x1) / 2, bx0, bx1))
    py = int(np.clip((y0 + y1) / 2, by0, by1))
    lx = int(np.clip(px, x0, x1 - 1))
    ly = int(np.clip(py, y0, y1 - 1))
    cv2.line(img, (lx, ly), (px, py), color, 1, cv2.LINE_AA)


def make_grid(tiles, nrow=8, padding=2, pad_value=0):
    """Tile equally sized images into a grid.

    Args:
        tiles: list (or array) of B uint8 images (h, w, 3).
        nrow: tiles per row.
        padding: pixels between tiles and around the grid.

    Returns:
        uint8 (rows * (h + p) + p, cols * (w + p) + p, 3).
    """
    tiles = list(tiles)
    if not tiles:
        raise ValueError('make_grid needs at least one image')
    h, w = tiles[0].shape[:2]
    cols = min(nrow, len(tiles))
    rows = int(math.ceil(len(tiles) / cols))
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3),
                   pad_value, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y:y + h, x:x + w] = tile
    return grid


def joint_grid(images, joints, joints_vis=None, skeleton=None, nrow=8, padding=2,
               instance_valid=None):
    """Crops with the joints of every instance drawn (HRNet's
    ``save_batch_image_with_joints``, multi-instance).

    Args:
        images: uint8 BGR (B, H, W, 3) crops.
        joints: (B, N, J, 2+) joint coordinates in crop pixels, N instances per crop.
        joints_vis: (B, N, J) or (B, N, J, 2+) visibility; joints with visibility <= 0 are
            skipped. None: all visible.
        skeleton: joint index pairs or None.
        instance_valid: optional (B, N); instances k >= 1 with 0 (slots repeating
            instance 0 in MIPNet targets) are not drawn.

    Returns:
        uint8 BGR grid image (see :func:`make_grid`). Instance k has colour
        ``pose_color(k)``; secondary instances are hollow and drawn under the primary.
    """
    joints = np.asarray(joints, dtype=np.float64)
    b, n, j = joints.shape[:3]
    vis = np.ones((b, n, j)) if joints_vis is None else np.asarray(joints_vis, dtype=np.float64)
    if vis.ndim == 4:
        vis = vis[..., 0]
    radius = max(1, int(round(images.shape[1] / 40)))
    tiles = []
    for i in range(b):
        tile = np.ascontiguousarray(images[i]).copy()
        for k in reversed(range(n)):
            if k and instance_valid is not None and not instance_valid[i, k] > 0:
                continue
            kpts = np.concatenate([joints[i, k, :, :2], vis[i, k, :, None]], axis=1)
            draw_pose(tile, kpts, skeleton, pose_color(k), secondary=k >= 1, kpt_thre=0.0,
                      radius=radius, thickness=1)
        tiles.append(tile)
    return make_grid(tiles, nrow, padding)


def heatmap_grid(images, heatmaps, min_cell=48):
    """Heatmap grid (HRNet's ``save_batch_heatmaps``, multi-instance): one row per
    (image, instance), the resized crop first, then every joint's heatmap in JET colours
    blended over the crop with its maximum marked.

    Args:
        images: uint8 BGR (B, H, W, 3) crops.
        heatmaps: float (B, K, J, h, w); values are clipped to [0, 1] for display.
        min_cell: cells are upscaled (nearest) by an integer factor to at least this height.

    Returns:
        uint8 BGR (B * K * ch, (J + 1) * cw, 3) with (ch, cw) the cell size.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    b, k, j, h, w = heatmaps.shape
    f = max(1, int(math.ceil(min_cell / h)))
    ch, cw = h * f, w * f
    grid = np.zeros((b * k * ch, (j + 1) * cw, 3), dtype=np.uint8)
    for i in range(b):
        small = cv2.resize(images[i], (cw, ch), interpolation=cv2.INTER_AREA)
        for kk in range(k):
            y = (i * k + kk) * ch
            cell = small.copy()
            if k > 1:
                cv2.putText(cell, f'k={kk}', (1, ch - 3), _FONT, 0.3, (255, 255, 255), 1,
                            cv2.LINE_AA)
            grid[y:y + ch, :cw] = cell
            for jj in range(j):
                hm = np.clip(heatmaps[i, kk, jj], 0.0, 1.0)
                colored = cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_JET)
                colored = cv2.resize(colored, (cw, ch), interpolation=cv2.INTER_NEAREST)
                blend = cv2.addWeighted(colored, 0.7, small, 0.3, 0)
                py, px = np.unravel_index(int(np.argmax(heatmaps[i, kk, jj])), (h, w))
                cv2.circle(blend, (int(px * f + f // 2), int(py * f + f // 2)), 1,
                           (255, 0, 255), -1)
                grid[y:y + ch, (jj + 1) * cw:(jj + 2) * cw] = blend
    return grid


def draw_annotations(image, anns, skeleton, zoom=1):
    """Ground-truth people of one image, drawn on a ``zoom``-times enlarged copy.

    Every person gets its own colour, a thin box, limbs between labelled joints, labelled
    joints hollow and visible (v = 2) joints filled.

    Args:
        image: BGR uint8 (H, W, 3).
        anns: COCO keypoint annotations of the image (``bbox``, flat ``keypoints`` J x 3).
        skeleton: limbs as pairs of joint indices.
        zoom: scale of the drawing.

    Returns:
        BGR uint8 (zoom * H, zoom * W, 3).
    """
    image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    for k, ann in enumerate(anns):
        color = pose_color(k)
        kps = np.array(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
        xy = (kps[:, :2] + 0.5) * zoom - 0.5
        draw_box(image, np.array(ann['bbox'], dtype=np.float64) * zoom, color, thickness=1)
        # Limbs between labelled joints, every labelled joint hollow; then the visible
        # joints filled on top.
        labelled = np.column_stack([xy, kps[:, 2] > 0])
        draw_pose(image, labelled, skeleton, color, secondary=True, radius=3, thickness=1)
        visible = np.column_stack([xy, kps[:, 2] == 2])
        draw_pose(image, visible, None, color, radius=3)
    return image
