"""Write the synthetic crowded-people keypoint dataset (COCO format).

Usage:
    python tools/make_synthetic.py --out data/synthetic --num-train 3000 --num-val 500 \
        --seed 0 [--image-size 256 192] [--workers 2] [--preview docs/images/x.png] \
        [--num-val-ochuman 400 [--ochuman-json tests/fixtures/ochuman/test_ochuman.json]]

``--num-val-ochuman M`` also writes the OCHuman-like validation split ``val_ochuman``
(``OCHUMAN_LIKE``: every person's box at IoU >= 0.5 with another's) and prints its occlusion
statistics next to the regular validation split's, OCHuman's published figures and, with
``--ochuman-json``, those of a real OCHuman annotation file.

The generator itself lives in :mod:`mipnet.data.synthetic`; see its docstring for the
layout and annotation conventions. Bad arguments exit with status 2.
"""
import argparse
import dataclasses
import json
import os
import sys

import cv2
import numpy as np

from mipnet.data.metadata import COCO
from mipnet.data.synthetic import (DEFAULT_IMAGE_SIZE, OCHUMAN_LIKE, SyntheticConfig,
                                   crowd_statistics_table, generate_dataset, generate_split,
                                   statistics_rows)
from mipnet.vis import draw_box, draw_pose, pose_color


def _count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
    return value


def _positive(text):
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def _draw_preview(out_dir, index, path, zoom=2):
    """Draw val image ``index`` with its people (drawn by :mod:`mipnet.vis`): skeleton,
    boxes, visible joints as filled and occluded joints as hollow circles."""
    with open(os.path.join(out_dir, 'annotations', 'person_keypoints_val.json')) as f:
        data = json.load(f)
    info = data['images'][index]
    image = cv2.imread(os.path.join(out_dir, 'images', 'val', info['file_name']))
    image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    anns = [a for a in data['annotations'] if a['image_id'] == info['id']]
    for k, ann in enumerate(anns):
        color = pose_color(k)
        kps = np.array(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
        xy = (kps[:, :2] + 0.5) * zoom - 0.5
        draw_box(image, np.array(ann['bbox'], dtype=np.float64) * zoom, color, thickness=1)
        # Limbs between labelled joints, every labelled joint hollow; then the visible
        # (v = 2) joints filled on top.
        labelled = np.column_stack([xy, kps[:, 2] > 0])
        draw_pose(image, labelled, COCO.skeleton, color, secondary=True, radius=3,
                  thickness=1)
        visible = np.column_stack([xy, kps[:, 2] == 2])
        draw_pose(image, visible, None, color, radius=3)
    if not cv2.imwrite(path, image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'could not write {path}')


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the synthetic crowded-people keypoint dataset (COCO format).')
    parser.add_argument('--out', required=True, help='output folder (created)')
    parser.add_argument('--num-train', type=_count, required=True, help='training images')
    parser.add_argument('--num-val', type=_count, required=True, help='validation images')
    parser.add_argument('--seed', type=_count, default=0, help='dataset seed (default 0)')
    parser.add_argument('--image-size', type=_positive, nargs=2, metavar=('W', 'H'),
                        default=list(DEFAULT_IMAGE_SIZE),
                        help='image width and height (default %(default)s)')
    parser.add_argument('--workers', type=_positive, default=1,
                        help='worker processes (default 1); output does not depend on it')
    parser.add_argument('--jpeg-quality', type=_positive, default=90, help='(default 90)')
    parser.add_argument('--preview', metavar='PNG',
                        help='also draw one val image with its keypoints into PNG')
    parser.add_argument('--preview-index', type=_count, default=0,
                        help='which val image --preview draws (default 0, the first)')
    parser.add_argument('--num-val-ochuman', type=_count, default=0,
                        help='also write this many images of the OCHuman-like split '
                             'val_ochuman (default 0)')
    parser.add_argument('--ochuman-json', metavar='JSON',
                        help='with --num-val-ochuman: also show the statistics of this '
                             'OCHuman annotation file (COCO format)')
    args = parser.parse_args(argv)

    if args.jpeg_quality > 100:
        parser.error(f'argument --jpeg-quality: must be <= 100, got {args.jpeg_quality}')
    if args.preview:
        if args.preview_index >= args.num_val:
            parser.error(f'--preview draws val image {args.preview_index}, but --num-val is '
                         f'{args.num_val}')
        parent = os.path.dirname(os.path.abspath(args.preview))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            parser.error(f'--preview: folder {parent!r} does not exist or is not writable')
    if args.ochuman_json and not os.path.isfile(args.ochuman_json):
        parser.error(f'--ochuman-json: no file {args.ochuman_json!r}')
    config = SyntheticConfig(jpeg_quality=args.jpeg_quality)
    try:
        stats = generate_dataset(args.out, args.num_train, args.num_val, seed=args.seed,
                                 image_size=args.image_size, workers=args.workers,
                                 config=config)
        ochuman_path = (generate_split(args.out, 'val_ochuman', args.num_val_ochuman,
                                       args.seed, args.image_size, args.workers,
                                       dataclasses.replace(OCHUMAN_LIKE,
                                                           jpeg_quality=args.jpeg_quality))
                        if args.num_val_ochuman else None)
    except ValueError as e:
        parser.error(str(e))

    for split in ('train', 'val'):
        s = stats[split]
        print(f'{split}: {s["images"]} images, {s["people"]} people, '
              f'multi-person images with a box pair of IoU>=0.4: '
              f'{s["overlap_pair_fraction"]:.1%}, occluded joints: {s["occluded_fraction"]:.1%}'
              f' -> {stats["paths"][split]}')
    print(f'{stats["num_images"]} images in {stats["seconds"]:.1f} s '
          f'({stats["images_per_second"]:.1f} images/s, {args.workers} worker(s))')
    if ochuman_path:
        print(f'val_ochuman: -> {ochuman_path}')
        print(crowd_statistics_table(statistics_rows(args.out, ('val', 'val_ochuman'),
                                                    args.ochuman_json)))
    if args.preview:
        _draw_preview(args.out, args.preview_index, args.preview)
        print(f'preview -> {args.preview}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
