"""Occlusion statistics of COCO keypoint dicts (synthetic splits or real datasets) and their
side-by-side markdown table."""
import json
import os

import numpy as np

from mipnet.utils.boxes import box_iou_matrix

from .config import OCHUMAN_PUBLISHED
from .scene import max_ious

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
        for a, v in zip(anns, max_ious([a['bbox'] for a in anns])):
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
