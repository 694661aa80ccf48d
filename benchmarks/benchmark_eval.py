"""Benchmark of the evaluation path on synthetic data (CPU, NumPy).

Stages timed:
  1. decode: ``get_final_preds`` on N heatmap sets (J joints, h x w), in chunks;
  2. rescore + OKS-NMS: ``rescore_and_merge`` of the N poses (K instances per box);
  3. metric: ``keypoint_eval`` of the merged results against a synthetic ground-truth
     file written to a temporary directory.

The ground truth holds random people; each person box gets K pose predictions (instance 0
its own person, instance k its k-th nearest neighbour in the image, as MIPNet predicts),
rendered as Gaussian heatmaps with random joint confidences. Heatmap rendering is not
timed. Prints one table and the peak resident memory (``resource.getrusage``).

Example::

    python benchmarks/benchmark_eval.py --num 10000 --heatmap-size 48 64 --chunk 512
"""
import argparse
import json
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.transforms import affine_transform_points, box_to_center_scale, \
    get_affine_transform
from mipnet.evaluation import get_final_preds, keypoint_eval, rescore_and_merge

logger = logging.getLogger(__name__)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--num', type=int, default=10000, help='pose predictions N (boxes x K)')
    p.add_argument('--instances', type=int, default=2, help='instances K per box')
    p.add_argument('--people-per-image', type=int, default=5)
    p.add_argument('--heatmap-size', type=int, nargs=2, default=(48, 64), metavar=('W', 'H'))
    p.add_argument('--chunk', type=int, default=512, help='boxes per decode call')
    p.add_argument('--post-process', default='quarter', choices=('quarter', 'dark', 'none'))
    p.add_argument('--dataset', default='coco', choices=('coco', 'crowdpose'))
    p.add_argument('--oks-thre', type=float, default=0.9)
    p.add_argument('--decay', type=float, default=0.5)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def make_ground_truth(num_people, people_per_image, num_joints, rng, crowd_index):
    """Random people in 640 x 480 images; returns the COCO dataset dict and the (P, J, 3)
    keypoints, (P, 4) boxes and (P,) image ids."""
    num_images = int(np.ceil(num_people / people_per_image))
    w = rng.uniform(40, 200, num_people)
    h = w * rng.uniform(1.5, 2.5, num_people)
    x = rng.uniform(0, 640 - w)
    y = rng.uniform(0, 480 - np.minimum(h, 470))
    boxes = np.stack([x, y, w, h], 1)
    # joints: a fixed template inside the box plus jitter
    template = np.stack([rng.uniform(0.1, 0.9, num_joints), np.linspace(0.05, 0.95,
                                                                         num_joints)], 1)
    kpts = np.zeros((num_people, num_joints, 3))
    kpts[:, :, :2] = boxes[:, None, :2] + template[None] * boxes[:, None, 2:] + \
        rng.normal(0, 2, (num_people, num_joints, 2))
    kpts[:, :, 2] = 2
    image_ids = np.arange(num_people) // people_per_image + 1
    images = [{'id': int(i), 'file_name': f'{i:06d}.jpg', 'width': 640, 'height': 480}
              for i in range(1, num_images + 1)]
    if crowd_index:
        for img in images:
            img['crowdIndex'] = float(rng.uniform(0, 1))
    annotations = [{'id': p + 1, 'image_id': int(image_ids[p]), 'category_id': 1,
                    'iscrowd': 0, 'num_keypoints': num_joints,
                    'keypoints': np.round(kpts[p], 2).reshape(-1).tolist(),
                    'bbox': np.round(boxes[p], 2).tolist(),
                    'area': float(boxes[p, 2] * boxes[p, 3])} for p in range(num_people)]
    dataset = {'images': images, 'annotations': annotations,
               'categories': [{'id': 1, 'name': 'person', 'supercategory': 'person'}]}
    return dataset, kpts, boxes, image_ids


def assign_instances(boxes, image_ids, k):
    """(P, K) person index predicted as instance k of each person's box: the box's own
    person, then its nearest neighbours in the same image (wrapping if too few)."""
    centers = boxes[:, :2] + boxes[:, 2:] / 2
    out = np.zeros((len(boxes), k), dtype=np.int64)
    for img in np.unique(image_ids):
        members = np.flatnonzero(image_ids == img)
        dist = ((centers[members, None] - centers[None, members]) ** 2).sum(-1)
        order = np.argsort(dist, axis=1, kind='stable')  # own person first (distance 0)
        out[members] = members[order[:, np.arange(k) % len(members)]]
    return out


def render_heatmaps(joints_hm, conf, size, sigma=2.0):
    """(B, J, 2) heatmap coordinates, (B, J) peak values -> (B, J, h, w) float32."""
    w, h = size
    joints_hm = joints_hm.astype(np.float32)
    gx = np.exp(-(np.arange(w, dtype=np.float32) - joints_hm[..., :1]) ** 2 / (2 * sigma ** 2))
    gy = np.exp(-(np.arange(h, dtype=np.float32) - joints_hm[..., 1:]) ** 2 / (2 * sigma ** 2))
    gy *= conf.astype(np.float32)[..., None]
    return gy[..., :, None] * gx[..., None, :]


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    meta = get_keypoint_meta(args.dataset)
    joints = meta.num_joints
    k = args.instances
    num_boxes = args.num // k
    hm_w, hm_h = args.heatmap_size

    dataset, kpts, boxes, image_ids = make_ground_truth(
        num_boxes, args.people_per_image, joints, rng, crowd_index=args.dataset == 'crowdpose')
    centers, scales = zip(*(box_to_center_scale(*b, aspect_ratio=hm_w / hm_h) for b in boxes))
    centers, scales = np.array(centers), np.array(scales)
    who = assign_instances(boxes, image_ids, k)  # (boxes, K) person indices
    box_scores = rng.uniform(0.5, 1.0, num_boxes)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gt_file = Path(tmp) / 'synthetic_gt.json'
        gt_file.write_text(json.dumps(dataset))

        # ---- decode, chunk by chunk (rendering excluded from the timing)
        preds = np.zeros((num_boxes, k, joints, 2), np.float32)
        maxvals = np.zeros((num_boxes, k, joints, 1), np.float32)
        decode_s = 0.0
        for start in range(0, num_boxes, args.chunk):
            sl = slice(start, min(start + args.chunk, num_boxes))
            b = sl.stop - sl.start
            target = kpts[who[sl]][..., :2]  # (b, K, J, 2) image coords
            hm_xy = np.stack([affine_transform_points(
                target[i], get_affine_transform(centers[sl][i], scales[sl][i], 0,
                                                [hm_w, hm_h])) for i in range(b)])
            conf = rng.uniform(0.2, 1.0, (b, k, joints))
            hm = render_heatmaps(hm_xy.reshape(b * k, joints, 2), conf.reshape(b * k, joints),
                                 (hm_w, hm_h))
            c = np.repeat(centers[sl], k, axis=0)
            s = np.repeat(scales[sl], k, axis=0)
            t0 = time.perf_counter()
            p, m = get_final_preds(hm, c, s, post_process=args.post_process)
            decode_s += time.perf_counter() - t0
            preds[sl] = p.reshape(b, k, joints, 2)
            maxvals[sl] = m.reshape(b, k, joints, 1)
        rows.append((f'decode ({args.post_process}, {joints}x{hm_h}x{hm_w}, '
                     f'chunk {args.chunk})', decode_s, num_boxes * k))

        # ---- rescore + OKS-NMS over all instances of each image
        t0 = time.perf_counter()
        results = rescore_and_merge(
            preds.reshape(-1, joints, 2), maxvals.reshape(-1, joints, 1),
            np.repeat(scales, k, axis=0), np.repeat(box_scores, k),
            np.repeat(image_ids, k), np.tile(np.arange(k), num_boxes),
            in_vis_thre=0.2, decay=args.decay, oks_thre=args.oks_thre,
            sigmas=meta.sigmas_array)
        rows.append(('rescore + OKS-NMS', time.perf_counter() - t0, num_boxes * k))

        # ---- metric
        t0 = time.perf_counter()
        metrics = keypoint_eval(str(gt_file), results, meta)
        rows.append((f'{meta.evaluator} keypoint metric', time.perf_counter() - t0, len(results)))

    total = sum(r[1] for r in rows)
    width = max(len(r[0]) for r in rows) + 2
    print(f'{"stage":<{width}} {"items":>8} {"seconds":>9} {"items/s":>10}')
    for name, sec, items in rows + [('total', total, None)]:
        rate = f'{items / sec:10.0f}' if items and sec > 0 else ' ' * 10
        print(f'{name:<{width}} {items if items else "":>8} {sec:9.3f} {rate}')
    print(f'{len(results)} results kept of {num_boxes * k} poses; '
          f'AP {metrics["AP"]:.3f}, AR {metrics["AR"]:.3f}')
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f'peak RSS: {peak_kib / 1024:.1f} MiB')
    return 0


if __name__ == '__main__':
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
