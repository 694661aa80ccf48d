"""Write the synthetic crowded-people keypoint dataset (COCO format): tools/make_synthetic.py.

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
import dataclasses
import json
import os

import cv2

from mipnet.cli.parsers import make_synthetic_parser
from mipnet.data.metadata import COCO
from mipnet.data.synthetic import (DEFAULT_IMAGE_SIZE, OCHUMAN_LIKE, SyntheticConfig,
                                   crowd_statistics_table, generate_dataset, generate_split,
                                   statistics_rows)
from mipnet.evaluation.subsets import occluded_ann_ids
from mipnet.vis import draw_annotations

__all__ = ['main', 'draw_preview', 'most_crowded_index']


def most_crowded_index(data):
    """Index (in ``data['images']`` order) of the most crowded image of a COCO dataset
    dict: the largest visible area (``area``) of people in the occluded subset (box IoU >=
    0.5 with another person's), so a scene of large overlapping people; then the most
    people, then the first."""
    occluded = occluded_ann_ids(data)
    counts = {im['id']: [0.0, 0] for im in data['images']}
    for ann in data['annotations']:
        if ann['id'] in occluded:
            counts[ann['image_id']][0] += float(ann.get('area', 0.0))
        counts[ann['image_id']][1] += 1
    return max(range(len(data['images'])),
               key=lambda i: (*counts[data['images'][i]['id']], -i))


def draw_preview(out_dir, index, path, zoom=2):
    """Draw val image ``index`` (None: :func:`most_crowded_index`) of the dataset in
    ``out_dir`` with its people (:func:`mipnet.vis.draw_annotations`) into the PNG file
    ``path``; returns the index drawn."""
    with open(os.path.join(out_dir, 'annotations', 'person_keypoints_val.json')) as f:
        data = json.load(f)
    if index is None:
        index = most_crowded_index(data)
    info = data['images'][index]
    image = cv2.imread(os.path.join(out_dir, 'images', 'val', info['file_name']))
    anns = [a for a in data['annotations'] if a['image_id'] == info['id']]
    drawn = draw_annotations(image, anns, COCO.skeleton, zoom)
    if not cv2.imwrite(path, drawn, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'could not write {path}')
    return index


def main(argv=None):
    """Command line of tools/make_synthetic.py; returns the exit status."""
    parser = make_synthetic_parser()
    args = parser.parse_args(argv)
    image_size = args.image_size or list(DEFAULT_IMAGE_SIZE)
    if args.jpeg_quality > 100:
        parser.error(f'argument --jpeg-quality: must be <= 100, got {args.jpeg_quality}')
    if args.preview:
        if args.num_val == 0 or (args.preview_index or 0) >= args.num_val:
            which = 'a val image' if args.preview_index is None else \
                f'val image {args.preview_index}'
            parser.error(f'--preview draws {which}, but --num-val is {args.num_val}')
        parent = os.path.dirname(os.path.abspath(args.preview))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            parser.error(f'--preview: folder {parent!r} does not exist or is not writable')
    if args.ochuman_json and not os.path.isfile(args.ochuman_json):
        parser.error(f'--ochuman-json: no file {args.ochuman_json!r}')
    config = SyntheticConfig(jpeg_quality=args.jpeg_quality)
    try:
        stats = generate_dataset(args.out, args.num_train, args.num_val, seed=args.seed,
                                 image_size=image_size, workers=args.workers, config=config)
        ochuman_path = (generate_split(args.out, 'val_ochuman', args.num_val_ochuman,
                                       args.seed, image_size, args.workers,
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
        index = draw_preview(args.out, args.preview_index, args.preview)
        print(f'preview (val image {index}) -> {args.preview}')
    return 0
