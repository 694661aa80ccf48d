"""Decode a config's dataset images once into a raw image cache (DATASET.IMAGE_CACHE).

    python tools/cache_images.py --cfg experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml \
        --data_path data/coco --out data/coco_image_cache [--splits train test] [--overwrite]

Options: ``--help``; the tool is :mod:`mipnet.cli.cache_images`.
"""
import sys

from mipnet.cli.cache_images import main

if __name__ == '__main__':
    sys.exit(main())
