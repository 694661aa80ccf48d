"""Data-pipeline throughput: the full training input path, today's per-sample targets vs
crops with batched targets (JPEG decode, then the image cache), side by side in one run.

Full path = image pixels -> augmentation geometry -> ``warpAffine`` -> batch -> normalised
images and multi-instance heatmap targets ready on the training device:

* ``per-sample`` (the path before issue 21): each worker decodes the JPEG, normalises the
  crop to float32 and draws full-resolution targets for every instance with NumPy, and
  ships them;
* ``batched``: workers decode the JPEG and ship the uint8 crop and the joints
  (``build_dataset(..., device_targets=True)``); :class:`mipnet.data.BatchMaker` makes
  images and targets for the whole batch on ``--device`` (here the CPU, in the main process);
* ``cached``: ``batched`` with ``DATASET.IMAGE_CACHE``: workers read the decoded pixels from
  the memory-mapped image cache (:mod:`mipnet.data.image_cache`, built here into a temporary
  folder before timing; its build time and size are printed) instead of decoding.

The three paths are timed in interleaved rounds (median reported) on the real fixtures
(tests/fixtures) and, with ``--synthetic-root``, on a synthetic COCO-layout root; the
first batch of each loader (worker start-up) is not timed. The image decode alone, timed in
the same rounds in this process, is the most a worker that decodes full images can give.
Before timing, one batch of each path is compared with the per-sample one (the largest
differences of images, targets and weights are printed; tests/data/test_batch_targets.py
and tests/data/test_image_cache.py pin them to 0).

With ``--items`` it instead times single items, ``dataset[i]`` in this process (process CPU
clock, interleaved rounds, median), with JPEG decoding and with the image cache: the
training item (augmentation and targets), the training crop item (what a training worker
makes), the evaluation item before issue 31 (the crop with every instance's joints carried
through the crop transform) and the evaluation item now (the crop and the box, what
inference reads), with the evaluation / training ratios.

Examples:
    python benchmarks/benchmark_data.py
    python benchmarks/benchmark_data.py --items --sets coco crowdpose ochuman --samples 400
    python benchmarks/benchmark_data.py --workers 1 2 --rounds 5 --samples 200
    python benchmarks/benchmark_data.py --synthetic-root data/synthetic --image-size 288 384
"""
import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mipnet.config import load_config
from mipnet.data import BatchMaker, build_dataset, build_image_cache
from mipnet.data.coco import decode_image
from mipnet.data.targets import IMAGENET_MEAN, IMAGENET_STD, normalize_crops

REPO = Path(__file__).resolve().parents[1]

logger = logging.getLogger('benchmark_data')

# name -> (folder, annotation file, joints)
FIXTURE_SETS = {
    'coco': ('coco', 'test_coco.json', 17),
    'crowdpose': ('crowdpose', 'test_crowdpose.json', 14),
    'ochuman': ('ochuman', 'test_ochuman.json', 17),
}


# ---- the per-sample path as it was before issue 21 (kept here only to compare against) ----
_NORM_MUL = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
_NORM_ADD = (-IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)


def legacy_normalize(crop, color_rgb):
    """BGR uint8 (H, W, 3) -> float32 (3, H, W), per sample with NumPy."""
    channels = cv2.split(crop)
    if color_rgb:
        channels = channels[::-1]
    out = np.empty((3,) + crop.shape[:2], dtype=np.float32)
    for c in range(3):
        out[c] = channels[c]
    out *= _NORM_MUL[:, None, None]
    out += _NORM_ADD[:, None, None]
    return out


def legacy_heatmaps(joints, joints_vis, image_size, heatmap_size, sigma, joint_weights=None):
    """NumPy targets of one sample: (N, J, 3) joints -> (N, J, h, w), (N, J, 1)."""
    joints = np.asarray(joints, dtype=np.float64)
    vis = np.asarray(joints_vis, dtype=np.float32)[..., 0]
    width, height = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.asarray(image_size, dtype=np.float64) / np.array([width, height], np.float64)
    tmp_size = sigma * 3
    mu = np.trunc(joints[..., :2] / stride + 0.5)
    ul = np.trunc(mu - tmp_size)
    br = np.trunc(mu + tmp_size + 1)
    inside = (ul[..., 0] < width) & (ul[..., 1] < height) & (br[..., 0] > 0) & (br[..., 1] > 0)
    weight = np.where(inside, vis, np.float32(0)).astype(np.float32)
    draw = (weight > 0.5).astype(np.float32)
    denom = np.float32(2.0 * sigma * sigma)
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)
    mu32 = mu.astype(np.float32)
    gx = np.exp(-np.square(xs - mu32[..., 0:1]) / denom)
    gx *= (xs >= ul[..., 0:1]) & (xs < br[..., 0:1])
    gy = np.exp(-np.square(ys - mu32[..., 1:2]) / denom)
    gy *= (ys >= ul[..., 1:2]) & (ys < br[..., 1:2])
    gy *= draw[..., None]
    target = gy[..., :, None] * gx[..., None, :]
    if joint_weights is not None:
        weight = weight * np.asarray(joint_weights, dtype=np.float32)
    return target.astype(np.float32, copy=False), weight[..., None]


class PerSampleDataset(Dataset):
    """The per-sample item of before issue 21 over a ``device_targets`` dataset: the same
    crop and joints, then float normalisation and NumPy targets in the worker."""

    def __init__(self, crops):
        self.crops = crops

    def __len__(self):
        return len(self.crops)

    def __getitem__(self, idx):
        ds = self.crops
        crop, meta = ds[idx]
        target, weight = legacy_heatmaps(meta['joints'], meta['joints_vis'], ds.image_size,
                                         ds.heatmap_size, ds.sigma, ds.joint_weights)
        image = torch.from_numpy(legacy_normalize(crop.numpy(), ds.color_rgb))
        return image, torch.from_numpy(target), torch.from_numpy(weight), meta


def per_sample_batch(batch, device):
    """What the training loop did with a per-sample batch: copy it to the device."""
    images, target, weight, meta = batch
    return (images.to(device, non_blocking=True), target.to(device, non_blocking=True),
            weight.to(device, non_blocking=True), meta)


# ---------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--fixtures', default=str(REPO / 'tests' / 'fixtures'),
                   help='real fixture folder (default: tests/fixtures)')
    p.add_argument('--sets', nargs='+', default=['coco'], choices=sorted(FIXTURE_SETS),
                   help='fixture sets to time (default: coco)')
    p.add_argument('--synthetic-root', default='',
                   help='synthetic dataset root (images/<set>/, annotations/)')
    p.add_argument('--synthetic-set', default='train', help='set name under the synthetic root')
    p.add_argument('--image-size', type=int, nargs=2, default=[192, 256], metavar=('W', 'H'),
                   help='network input size (default: HRNet 192 x 256)')
    p.add_argument('--num-instances', type=int, default=2, help='MODEL.NUM_INSTANCES')
    p.add_argument('--samples', type=int, default=160, help='samples timed per measurement')
    p.add_argument('--rounds', type=int, default=5, help='interleaved rounds (median)')
    p.add_argument('--batch-size', type=int, default=16, help='DataLoader batch size')
    p.add_argument('--workers', type=int, nargs='+', default=[1],
                   help='DataLoader worker counts to time (0 = in-process loader)')
    p.add_argument('--device', default='cpu', help='where targets are made (cpu, cuda, npu)')
    p.add_argument('--split', choices=('train', 'val'), default='train',
                   help='train: augmented items with targets; val: the evaluation items '
                        '(per-sample = the float images and unused targets evaluation read '
                        'before, batched = crops normalised on --device)')
    p.add_argument('--items', action='store_true',
                   help='time single items (dataset[i]) in this process instead: training '
                        'items against evaluation items before and after issue 31')
    p.add_argument('--cold', action='store_true',
                   help='drop the image files and the cache from the page cache before '
                        'every timing (reads from disk, as for a dataset larger than RAM)')
    return p.parse_args(argv)


def make_cfg(args, name, image_dir, ann_file, num_joints, image_cache=''):
    w, h = args.image_size
    return load_config(str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml'), [
        'DATASET.IMAGE_CACHE', image_cache,
        'DATASET.TRAIN_DATASET', name, 'MODEL.NUM_JOINTS', str(num_joints),
        'DATASET.TRAIN_IMAGE_DIR', image_dir, 'DATASET.TRAIN_ANNOTATION_FILE', ann_file,
        'DATASET.TEST_DATASET', name, 'DATASET.TEST_IMAGE_DIR', image_dir,
        'DATASET.TEST_ANNOTATION_FILE', ann_file,
        'MODEL.IMAGE_SIZE', f'[{w}, {h}]', 'MODEL.HEATMAP_SIZE', f'[{w // 4}, {h // 4}]',
        'MODEL.NUM_INSTANCES', str(args.num_instances),
        # full augmentation (HRNet COCO settings)
        'DATASET.FLIP', 'True', 'DATASET.SCALE_FACTOR', '0.35', 'DATASET.ROT_FACTOR', '45',
        'DATASET.PROB_HALF_BODY', '0.3', 'DATASET.COLOR_RGB', 'True'])


def _worker_init(worker_id):
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    seed_all(worker_id)


def make_loader(ds, n, workers, batch_size, device):
    sampler = [i % len(ds) for i in range(n + batch_size)]
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=device.type != 'cpu',
                      worker_init_fn=_worker_init if workers else None)


def time_path(ds, finish, n, workers, batch_size, device):
    """samples/s of the full path, after the loader's first batch (worker start-up)."""
    it = iter(make_loader(ds, n, workers, batch_size, device))
    finish(next(it))
    count = 0
    t0 = time.perf_counter()
    for batch in it:
        out = finish(batch)
        count += out[0].shape[0]
    if device.type != 'cpu':
        getattr(torch, device.type).synchronize()
    return count / (time.perf_counter() - t0)


def evict(ds):
    """Drop the dataset's image files and its image cache from the page cache
    (``posix_fadvise(DONTNEED)``), so the next pass reads them from disk."""
    ds = getattr(ds, 'crops', ds)
    if ds.image_cache is not None:
        ds.image_cache._pixels = None      # an unmapped file's pages can be dropped
    files = {rec['image'] for rec in ds.db}
    if ds.image_cache is not None:
        files.add(ds.image_cache.pixels_path)
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def time_decode(ds, n):
    """samples/s of the image decode alone, in this process: the ceiling of a worker."""
    t0 = time.perf_counter()
    for i in range(n):
        decode_image(ds.db[i % len(ds)]['image'])
    return n / (time.perf_counter() - t0)


def seed_all(seed):
    """The augmentation draws from NumPy's and Python's generators."""
    np.random.seed(seed)
    random.seed(seed)


def compare_once(per_sample, crops, finish_new, device, batch_size):
    """Max |difference| of images, targets, weights (images only for evaluation items)
    between one batch of each path."""
    seed_all(0)
    old = per_sample_batch(next(iter(DataLoader(per_sample, batch_size=batch_size))), device)
    seed_all(0)
    new = finish_new(next(iter(DataLoader(crops, batch_size=batch_size))))
    return [float((a.float() - b.float()).abs().max()) for a, b in zip(old[:3], new[:-1])]


class FullMetaEvalCrops(Dataset):
    """The evaluation crop item before issue 31: the same crop, with every instance's joints
    carried through the crop transform into its meta (kept here only to compare against)."""

    def __init__(self, full):
        self.full = full      # an evaluation dataset built without device_targets

    def __len__(self):
        return len(self.full)

    def __getitem__(self, idx):
        ds = self.full
        rec = ds.db[idx]
        crop, meta = ds._make_crop(rec, ds._read_image(rec['image']))
        meta['index'] = idx
        return crop, meta


def time_items(datasets, n, rounds):
    """Median items/s of ``dataset[i]`` for each dataset, timed round-robin with this
    process's CPU clock."""
    rates = [[] for _ in datasets]
    for _ in range(rounds):
        for ds, bucket in zip(datasets, rates):
            start = time.process_time()
            for i in range(n):
                ds[i % len(ds)]
            bucket.append(n / (time.process_time() - start))
    return [statistics.median(r) for r in rates]


def main_items(args, sets):
    """The ``--items`` table: training against evaluation items, decoded and cached."""
    labels = ('training item', 'training crop item', 'evaluation item before',
              'evaluation item now')
    rows = []
    with tempfile.TemporaryDirectory(prefix='mipnet_image_cache_') as tmp:
        for label, name, image_dir, ann_file, nj in sets:
            folder = os.path.join(tmp, name)
            plain_cfg = make_cfg(args, name, image_dir, ann_file, nj)
            probe = build_dataset(plain_cfg, False, device_targets=True)
            build_image_cache(sorted({rec['image'] for rec in probe.db} |
                                     {rec['image'] for rec in
                                      build_dataset(plain_cfg, True).db}),
                              folder, decode_image)
            for source, cfg in (('decode', plain_cfg),
                                ('cache', make_cfg(args, name, image_dir, ann_file, nj,
                                                   folder))):
                datasets = [build_dataset(cfg, True), build_dataset(cfg, True,
                                                                    device_targets=True),
                            FullMetaEvalCrops(build_dataset(cfg, False)),
                            build_dataset(cfg, False, device_targets=True)]
                seed_all(0)
                rates = time_items(datasets, args.samples, args.rounds)
                rows.append((label, source, rates))
    head = (f'{"dataset":<20} {"pixels":<7} ' + ' '.join(f'{h + "/s":>24}' for h in labels) +
            f' {"eval now / training":>20} {"eval now / before":>18}')
    print(f'single items in this process, input {args.image_size[0]}x{args.image_size[1]}, '
          f'{args.num_instances} instances, {args.samples} items x {args.rounds} interleaved '
          f'rounds (median, process CPU time), load average {os.getloadavg()[0]:.2f} at the '
          'end')
    print(head)
    print('-' * len(head))
    for label, source, rates in rows:
        print(f'{label:<20} {source:<7} ' + ' '.join(f'{r:>24.1f}' for r in rates) +
              f' {rates[3] / rates[0]:>19.2f}x {rates[3] / rates[2]:>17.2f}x')
    return 0


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    device = torch.device(args.device)

    sets = []
    fixtures = Path(args.fixtures)
    if (fixtures / 'coco' / 'test_coco.json').is_file():
        for name in args.sets:
            folder, ann, nj = FIXTURE_SETS[name]
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

    if args.items:
        return main_items(args, sets)
    w, h = args.image_size
    mode = ('train mode, full augmentation' if args.split == 'train' else
            'evaluation items (ground-truth boxes, no augmentation)')
    print(f'{mode}, input {w}x{h}, heatmap {w // 4}x{h // 4}, '
          f'{args.num_instances} instances, batch {args.batch_size}, {args.samples} samples x '
          f'{args.rounds} interleaved rounds (median), targets on {device}, '
          f'{"cold page cache, " if args.cold else ""}'
          f'{os.cpu_count()} CPUs, torch {torch.__version__}')
    header = (f'{"dataset":<22} {"workers":>7} {"per-sample/s":>13} {"batched/s":>10} '
              f'{"cached/s":>9} {"per worker: per-sample -> batched, cached":>42} '
              f'{"ratios":>13} {"decode alone/s":>15}')
    rows = []
    with tempfile.TemporaryDirectory(prefix='mipnet_image_cache_') as tmp:
        for label, name, image_dir, ann_file, nj in sets:
            is_train = args.split == 'train'
            crops = build_dataset(make_cfg(args, name, image_dir, ann_file, nj), is_train,
                                  device_targets=True)
            folder = os.path.join(tmp, name)
            built = build_image_cache([rec['image'] for rec in crops.db], folder, decode_image)
            cached = build_dataset(make_cfg(args, name, image_dir, ann_file, nj, folder),
                                   is_train, device_targets=True)
            print(f'{label}: image cache of {built["images"]} images built in '
                  f'{built["seconds"]:.2f} s, {built["pixel_bytes"] / 2 ** 20:.1f} MiB')
            if is_train:
                per_sample = PerSampleDataset(crops)
                maker = BatchMaker.for_dataset(crops, device)
            else:
                per_sample = build_dataset(make_cfg(args, name, image_dir, ann_file, nj), False)

                def maker(batch, color_rgb=crops.color_rgb):
                    return (normalize_crops(batch[0].to(device, non_blocking=True), color_rgb),
                            batch[1])
            for path_name, ds in (('batched', crops), ('cached', cached)):
                diffs = compare_once(per_sample, ds, maker, device, args.batch_size)
                print(f'{label}: one batch, per-sample vs {path_name}, max |diff| ' +
                      ', '.join(f'{k} {d:.3g}' for k, d in
                                zip(('images', 'targets', 'weights'), diffs)))
            paths = [(per_sample, lambda b: per_sample_batch(b, device)), (crops, maker),
                     (cached, maker)]
            for workers in args.workers:
                rates = [[], [], [], []]
                for _ in range(args.rounds):
                    for (ds, finish), bucket in zip(paths, rates):
                        if args.cold:
                            evict(ds)
                        bucket.append(time_path(ds, finish, args.samples, workers,
                                                args.batch_size, device))
                    if args.cold:
                        evict(crops)
                    rates[3].append(time_decode(crops, args.samples))
                old, new, fast, decode = (statistics.median(r) for r in rates)
                per = max(workers, 1)
                rows.append(f'{label:<22} {workers:>7} {old:>13.1f} {new:>10.1f} {fast:>9.1f} '
                            f'{old / per:>18.1f} -> {new / per:>7.1f}, {fast / per:>7.1f} '
                            f'{new / old:>5.2f}x {fast / old:>6.2f}x {decode:>15.1f}')
    print(header)
    print('-' * len(header))
    print('\n'.join(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
