"""Data-pipeline throughput: dataset samples/s in train mode with full augmentation.

Measures ``dataset[i]`` (image decode + half-body/scale/rotation/flip + warp + multi-instance
heatmap targets) on the real fixtures (tests/fixtures) and, with ``--synthetic-root``,
on a synthetic COCO-layout root written by tools/make_synthetic.py; first in this process,
then through a DataLoader with each requested number of workers (total and per worker).

Examples:
    python benchmarks/benchmark_data.py
    python benchmarks/benchmark_data.py --synthetic-root data/synthetic --workers 0 1 2
    python benchmarks/benchmark_data.py --image-size 288 384 --samples 400
"""
import argparse
import logging
import os
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'lib'))

from mipnet.config import load_config  # noqa: E402
from mipnet.data import build_dataset  # noqa: E402

logger = logging.getLogger('benchmark_data')

# name -> (folder, annotation file, joints)
FIXTURE_SETS = {
    'coco': ('coco', 'test_coco.json', 17),
    'crowdpose': ('crowdpose', 'test_crowdpose.json', 14),
    'ochuman': ('ochuman', 'test_ochuman.json', 17),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--fixtures', default=str(REPO / 'tests' / 'fixtures'),
                   help='real fixture folder (default: tests/fixtures)')
    p.add_argument('--synthetic-root', default='',
                   help='synthetic dataset root (images/<set>/, annotations/)')
    p.add_argument('--synthetic-set', default='train', help='set name under the synthetic root')
    p.add_argument('--image-size', type=int, nargs=2, default=[192, 256], metavar=('W', 'H'),
                   help='network input size (default: HRNet 192 x 256)')
    p.add_argument('--num-instances', type=int, default=2, help='MODEL.NUM_INSTANCES')
    p.add_argument('--samples', type=int, default=100, help='samples timed per measurement')
    p.add_argument('--batch-size', type=int, default=8, help='DataLoader batch size')
    p.add_argument('--workers', type=int, nargs='+', default=[0, 1],
                   help='DataLoader worker counts to time (0 = in-process loader)')
    return p.parse_args(argv)


def make_cfg(args, name, image_dir, ann_file, num_joints):
    w, h = args.image_size
    return load_config(str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml'), [
        'DATASET.TRAIN_DATASET', name, 'MODEL.NUM_JOINTS', str(num_joints),
        'DATASET.TRAIN_IMAGE_DIR', image_dir, 'DATASET.TRAIN_ANNOTATION_FILE', ann_file,
        'MODEL.IMAGE_SIZE', f'[{w}, {h}]', 'MODEL.HEATMAP_SIZE', f'[{w // 4}, {h // 4}]',
        'MODEL.NUM_INSTANCES', str(args.num_instances),
        # full augmentation (HRNet COCO settings)
        'DATASET.FLIP', 'True', 'DATASET.SCALE_FACTOR', '0.35', 'DATASET.ROT_FACTOR', '45',
        'DATASET.PROB_HALF_BODY', '0.3', 'DATASET.COLOR_RGB', 'True'])


def time_direct(ds, n):
    """samples/s of ``ds[i]`` in this process."""
    ds[0]  # warm-up (page cache, lazy imports)
    t0 = time.perf_counter()
    for i in range(n):
        ds[i % len(ds)]
    return n / (time.perf_counter() - t0)


def _worker_init(_):
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def time_loader(ds, n, workers, batch_size):
    """samples/s through a DataLoader (after its first batch, which includes worker start)."""
    sampler = [i % len(ds) for i in range(n + batch_size)]
    loader = DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers,
                        worker_init_fn=_worker_init if workers else None)
    it = iter(loader)
    next(it)
    count = 0
    t0 = time.perf_counter()
    for batch in it:
        count += batch[0].shape[0]
    return count / (time.perf_counter() - t0)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    np.random.seed(0)
    random.seed(0)

    sets = []
    fixtures = Path(args.fixtures)
    if (fixtures / 'coco' / 'test_coco.json').is_file():
        for name, (folder, ann, nj) in FIXTURE_SETS.items():
            sets.append((f'fixtures/{name}', name, str(fixtures / folder),
                         str(fixtures / folder / ann), nj))
    else:
        print(f'fixtures not found at {fixtures}; skipping them')
    if args.synthetic_root:
        root = Path(args.synthetic_root)
        image_dir = root / 'images' / args.synthetic_set
        if not image_dir.is_dir():
            image_dir = root / args.synthetic_set
        sets.append((f'synthetic {root.name}/{args.synthetic_set}', 'synthetic', str(image_dir),
                     str(root / 'annotations' / f'person_keypoints_{args.synthetic_set}.json'),
                     17))
    if not sets:
        print('nothing to benchmark')
        return 1

    w, h = args.image_size
    print(f'train mode, full augmentation, input {w}x{h}, heatmap {w // 4}x{h // 4}, '
          f'{args.num_instances} instances, {args.samples} samples per measurement, '
          f'{os.cpu_count()} CPUs')
    header = f'{"dataset":<28} {"boxes":>6} {"mode":<12} {"samples/s":>10} {"per worker":>11}'
    print(header)
    print('-' * len(header))
    for label, name, image_dir, ann_file, nj in sets:
        ds = build_dataset(make_cfg(args, name, image_dir, ann_file, nj), True)
        rate = time_direct(ds, args.samples)
        print(f'{label:<28} {len(ds):>6} {"direct":<12} {rate:>10.1f} {rate:>11.1f}')
        for workers in args.workers:
            rate = time_loader(ds, args.samples, workers, args.batch_size)
            per = rate / max(workers, 1)
            mode = f'loader w={workers}'
            print(f'{label:<28} {len(ds):>6} {mode:<12} {rate:>10.1f} {per:>11.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
