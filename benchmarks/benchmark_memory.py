"""Evaluation memory benchmark: peak RSS of multi-instance inference over many boxes.

Runs ``mipnet.engine.evaluate.run_inference`` (the path of ``validate`` and tools/test.py)
over N synthetic boxes with a real model and reports how much the process's peak resident
memory grew, next to the size the heatmaps of all boxes would take if they were kept
(N x K instances x J joints x h x w float32) and the size of what is kept (decoded
keypoints, N x K x J x 3 float32). The peak includes one batch in flight (activations,
heatmaps, flip copies), which depends on the batch size, not on N; the RSS slope over the
second half of the run (MiB per 1000 boxes) shows what does grow with N. ``--keep-heatmaps``
runs a counterfactual predictor that does keep them, to show the measurement would see it.

Usage::

    python benchmarks/benchmark_memory.py                    # 10k boxes, tiny model, CPU
    python benchmarks/benchmark_memory.py --boxes 2000 --keep-heatmaps
    python benchmarks/benchmark_memory.py --boxes 500 --batch 16 \
        --config experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml

Peak RSS is read from /proc/self/status (VmHWM) after resetting it through
/proc/self/clear_refs (Linux); elsewhere the lifetime peak (ru_maxrss) is reported.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, SequentialSampler

from mipnet.config import load_config
from mipnet.engine.evaluate import predictor_from_cfg, run_inference
from mipnet.models import build_model

MIB = 1024 ** 2


class SyntheticBoxes(Dataset):
    """N boxes with deterministic random crops; the meta run_inference reads."""

    def __init__(self, n, image_size, num_instances, num_joints):
        self.n = n
        self.w, self.h = image_size
        self.shape = (num_instances, num_joints)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        image = torch.randn(3, self.h, self.w, generator=g)
        meta = {'center': np.array([100.0 + i % 50, 120.0], dtype=np.float32),
                'scale': np.array([1.0, 1.0], dtype=np.float32),
                'score': 1.0, 'image_id': i // 8, 'index': i}
        return image, torch.zeros(0), torch.zeros(0), meta


def rss_kib(field):
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak():
    """Reset VmHWM to the current RSS; False where that is not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


class Probe:
    """Transparent predictor wrapper recording (boxes done, VmRSS KiB) after every batch;
    with ``keep_heatmaps`` it is the counterfactual that also keeps every box's heatmaps."""

    def __init__(self, predictor, keep_heatmaps=False):
        self.inner, self.model = predictor, predictor.model
        self.keep_heatmaps, self.kept, self.samples, self.done = keep_heatmaps, [], [], 0

    def __call__(self, images, centers, scales):
        heatmaps = self.inner.heatmaps(images)
        if self.keep_heatmaps:
            self.kept.append(heatmaps.cpu())
        out = self.inner.keypoints(heatmaps, centers, scales)
        self.done += images.shape[0]
        self.samples.append((self.done, rss_kib('VmRSS') or 0))
        return out

    def slope_mib_per_1k(self):
        """RSS growth per 1000 boxes, least squares over the second half of the batches."""
        pts = np.array(self.samples[len(self.samples) // 2:], dtype=np.float64)
        if len(pts) < 2 or np.ptp(pts[:, 0]) == 0:
            return float('nan')
        return np.polyfit(pts[:, 0], pts[:, 1], 1)[0] * 1000 / 1024


def measure(cfg, model, boxes, batch, keep_heatmaps=False):
    """Run the inference path over ``boxes`` synthetic boxes; returns a result dict."""
    device = torch.device('cpu')
    model.to(device).eval()
    dataset = SyntheticBoxes(boxes, cfg.MODEL.IMAGE_SIZE, model.num_instances,
                             cfg.MODEL.NUM_JOINTS)
    loader = DataLoader(dataset, batch_size=batch, sampler=SequentialSampler(dataset),
                        num_workers=0)
    flip_index = np.arange(cfg.MODEL.NUM_JOINTS)
    predictor = Probe(predictor_from_cfg(cfg, model, flip_index), keep_heatmaps)
    # Warm-up: one batch, so that allocator pools and lazy initialisation are not counted.
    run_inference(predictor, DataLoader(torch.utils.data.Subset(dataset, range(batch)),
                                        batch_size=batch), device, progress=False)
    predictor.kept.clear()
    predictor.samples.clear()
    predictor.done = 0
    exact = reset_peak()
    before = rss_kib('VmRSS')
    start = time.perf_counter()
    out = run_inference(predictor, loader, device, progress=False)
    seconds = time.perf_counter() - start
    peak = rss_kib('VmHWM') if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    k = len(predictor_from_cfg(cfg, model, flip_index).instances)
    w, h = cfg.MODEL.HEATMAP_SIZE
    return {
        'boxes': boxes, 'instances': k, 'joints': cfg.MODEL.NUM_JOINTS, 'heatmap': (w, h),
        'seconds': seconds,
        'rss_before_mib': before / 1024 if before else float('nan'),
        'peak_rss_mib': peak / 1024,
        'peak_growth_mib': (peak - before) / 1024 if before else float('nan'),
        'exact_peak': exact,
        'slope_mib_per_1k': predictor.slope_mib_per_1k(),
        'heatmaps_mib': boxes * k * cfg.MODEL.NUM_JOINTS * w * h * 4 / MIB,
        'keypoints_mib': boxes * k * cfg.MODEL.NUM_JOINTS * 3 * 4 / MIB,
        'kept_mib': sum(v.nbytes for v in out.values()) / MIB,
        'kept_shapes': {key: tuple(v.shape) for key, v in out.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='experiments/synthetic/tiny_mipnet.yaml')
    parser.add_argument('--boxes', type=int, default=10_000)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--keep-heatmaps', action='store_true',
                        help='counterfactual predictor that keeps all heatmaps')
    parser.add_argument('opts', nargs=argparse.REMAINDER, help='KEY VALUE config overrides')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, list(args.opts))
    torch.manual_seed(0)
    model = build_model(cfg, is_train=False)
    r = measure(cfg, model, args.boxes, args.batch, args.keep_heatmaps)
    print(f'model {cfg.MODEL.NAME} ({os.path.basename(args.config)}), input '
          f'{tuple(cfg.MODEL.IMAGE_SIZE)}, heatmap {r["heatmap"]}, {r["instances"]} instances x '
          f'{r["joints"]} joints, flip test {cfg.TEST.FLIP_TEST}, batch {args.batch}, '
          f'{torch.get_num_threads()} threads, python {sys.version.split()[0]}, '
          f'torch {torch.__version__}')
    print(f'{r["boxes"]} boxes in {r["seconds"]:.1f} s ({r["boxes"] / r["seconds"]:.0f} boxes/s)'
          + ('  [predictor KEEPS heatmaps: counterfactual]' if args.keep_heatmaps else ''))
    print(f'RSS before inference      {r["rss_before_mib"]:9.1f} MiB')
    print(f'peak RSS during inference {r["peak_rss_mib"]:9.1f} MiB  '
          f'(growth {r["peak_growth_mib"]:.1f} MiB'
          + ('' if r['exact_peak'] else '; lifetime peak, VmHWM reset unavailable') + ')')
    print(f'RSS slope, 2nd half       {r["slope_mib_per_1k"]:9.2f} MiB per 1000 boxes  '
          f'(heatmaps would be {r["heatmaps_mib"] / r["boxes"] * 1000:.2f})')
    print(f'heatmaps of all boxes     {r["heatmaps_mib"]:9.1f} MiB  (what keeping them would add)')
    print(f'decoded keypoints         {r["keypoints_mib"]:9.1f} MiB  '
          f'(returned arrays in all: {r["kept_mib"]:.1f} MiB)')
    print(f'returned: {r["kept_shapes"]}')
    return r


if __name__ == '__main__':
    main()
