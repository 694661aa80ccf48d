"""Decode a config's dataset images once into a raw image cache: tools/cache_images.py.

    python tools/cache_images.py --cfg experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml \
        --data_path data/coco --out data/coco_image_cache [--splits train test] [--overwrite]

then train or evaluate with ``DATASET.IMAGE_CACHE data/coco_image_cache``. The cache holds
the images the datasets read (those with at least one usable person box), decoded by the
same function, so training and evaluation see the same pixels; see
:mod:`mipnet.data.image_cache` for the layout and its checks.
"""
import logging
import sys

from mipnet.cli.parsers import cache_images_parser
from mipnet.config import ConfigError, load_config
from mipnet.data import DataError, build_dataset
from mipnet.data.coco import decode_image
from mipnet.data.image_cache import build_image_cache

__all__ = ['main', 'dataset_images']


def dataset_images(cfg, splits):
    """Image files the ``splits`` ('train', 'test') of ``cfg`` read, with their annotated
    sizes.

    Returns:
        (list of paths in first-use order, {path: (width, height)}).
    """
    paths, sizes = [], {}
    # The datasets are read without a cache: the one named may be the one being (re)built.
    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATASET.IMAGE_CACHE = ''
    for split in splits:
        ds = build_dataset(cfg, is_train=split == 'train')
        by_path = {ds.image_path(im): (im['width'], im['height']) for im in ds.images.values()}
        for rec in ds.db:
            path = rec['image']
            if path not in sizes:
                sizes[path] = by_path.get(path, (0, 0))
                paths.append(path)
    return paths, sizes


def main(argv=None):
    """Command line of tools/cache_images.py; returns the exit status."""
    args = cache_images_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    opts = list(args.opts)
    if args.data_path:
        opts += ['DATASET.ROOT', args.data_path]
    try:
        cfg = load_config(args.cfg, opts)
        paths, sizes = dataset_images(cfg, args.splits)
        print(f'caching {len(paths)} images ({" + ".join(args.splits)}) into {args.out}')
        done = build_image_cache(paths, args.out, decode_image, sizes=sizes,
                                 overwrite=args.overwrite)
    except (ConfigError, DataError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'{done["images"]} images cached, {done["broken"]} unreadable (recorded as such), '
          f'{done["pixel_bytes"] / 2 ** 30:.3f} GiB in {done["seconds"]:.1f} s: '
          f'{done["folder"]}')
    print(f'use it with: DATASET.IMAGE_CACHE {done["folder"]}')
    return 0
