"""Figures of the MIPNet-vs-HRNet comparison: AP / occluded AR per epoch of both runs, and
ground truth | HRNet | MIPNet side by side on crowded validation images."""
import json
import os

import cv2
import numpy as np

from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation.subsets import occluded_ann_ids

DRAW_SCORE_THRE = 0.2  # poses drawn in the prediction figure
NUM_FIGURE_IMAGES = 4


def plot_history(runs, path):
    """Plot AP (all people) and occluded AR per validated epoch of each run into ``path``;
    matplotlib is imported here, on use."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for run, color in zip(runs, ('tab:blue', 'tab:red')):
        epochs = [h['epoch'] + 1 for h in run['history']]
        name = run['name']
        ax.plot(epochs, [h['ap'] for h in run['history']], 'o-', color=color,
                label=f'{name}: AP (all people)')
        ax.plot(epochs, [h['occluded_AR'] for h in run['history']], 's--', color=color,
                label=f'{name}: AR (occluded subset)')
    ax.set_xlabel('epoch')
    ax.set_ylabel('COCO keypoint AP / AR (val, GT boxes)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title('Synthetic crowded people: MIPNet vs HRNet', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_variants(evaluations, path):
    """Bar chart into ``path``: per split of ``evaluations`` ({split: [run dict, ...]} of
    :func:`mipnet.analysis.evaluation.evaluate_runs`) and per run, AP and AR with
    ground-truth boxes and AR .5 of the occluded people on crowd-merged boxes."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    metrics = (('AP, GT boxes', lambda r: r['metrics']['merged']['AP']),
               ('AR, GT boxes', lambda r: r['metrics']['merged']['AR']),
               ('AR .5 occluded, merged boxes',
                lambda r: r['crowd_boxes']['occluded']['merged']['AR .5']))
    splits = list(evaluations)
    fig, axes = plt.subplots(1, len(splits), figsize=(5.2 * len(splits), 4.0), dpi=110,
                             squeeze=False)
    for ax, split in zip(axes[0], splits):
        runs = evaluations[split]
        width = 0.8 / len(runs)
        for i, run in enumerate(runs):
            values = [f(run) for _, f in metrics]
            bars = ax.bar([m + (i - (len(runs) - 1) / 2) * width for m in range(len(metrics))],
                          values, width, label=run['name'], color=f'C{i}')
            ax.bar_label(bars, fmt='%.3f', fontsize=6, rotation=90, padding=2)
        ax.set_xticks(range(len(metrics)), [name for name, _ in metrics], fontsize=8)
        ax.set_title(f'split {split}', fontsize=10)
        ax.set_ylim(0, max(0.05, *(f(r) for r in runs for _, f in metrics)) * 1.25)
        ax.grid(axis='y', alpha=0.3)
    axes[0][0].set_ylabel('COCO keypoint metric')
    axes[0][-1].legend(fontsize=7, loc='upper left')
    fig.suptitle('Fine-tuned from the same HRNet: HRNet continued vs MIPNet variants',
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def draw_predictions(runs, path, num_images=NUM_FIGURE_IMAGES, zoom=2):
    """Ground truth | one column per run (HRNet, MIPNet, ...) on the first ``num_images``
    validation images (by id) that hold an occluded pair (IoU >= 0.5); chosen without
    looking at the predictions."""
    from mipnet.vis import draw_pose, draw_poses, pose_color
    skeleton = get_keypoint_meta('coco').skeleton
    with open(runs[0]['annotation_file']) as f:
        gt = json.load(f)
    occluded = occluded_ann_ids(gt)
    image_ids = sorted({a['image_id'] for a in gt['annotations'] if a['id'] in occluded})
    image_ids = image_ids[:num_images]
    images = {im['id']: im for im in gt['images']}
    split = os.path.basename(runs[0]['annotation_file'])[len('person_keypoints_'):-len('.json')]
    image_dir = os.path.join(os.path.dirname(os.path.dirname(runs[0]['annotation_file'])),
                             'images', split)
    preds = []
    for run in runs:
        with open(run['results']['merged']) as f:
            preds.append(json.load(f))

    def scaled(kpts):
        k = np.asarray(kpts, dtype=np.float64).reshape(-1, 3).copy()
        k[:, :2] = (k[:, :2] + 0.5) * zoom - 0.5
        return k

    rows = []
    for image_id in image_ids:
        img = cv2.imread(os.path.join(image_dir, images[image_id]['file_name']))
        img = cv2.resize(img, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        tile = img.copy()
        for i, a in enumerate(a for a in gt['annotations'] if a['image_id'] == image_id):
            k = scaled(a['keypoints'])
            k[:, 2] = (k[:, 2] > 0).astype(np.float64)
            draw_pose(tile, k, skeleton, pose_color(i), kpt_thre=0.5)
        tiles = [tile]
        for run, results in zip(runs, preds):
            poses = [{'keypoints': scaled(r['keypoints']), 'score': r['score'],
                      'instance': r.get('instance', 0)}
                     for r in results if r['image_id'] == image_id
                     and r['score'] >= DRAW_SCORE_THRE]
            tiles.append(draw_poses(img, poses, skeleton, kpt_thre=0.2, draw_boxes=True))
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255)
                                    for t in tiles], axis=1))
    header = np.full((28, rows[0].shape[1], 3), 255, np.uint8)
    width = rows[0].shape[1] // (len(runs) + 1)
    for i, title in enumerate(['ground truth'] + [run['name'] for run in runs]):
        cv2.putText(header, title, (i * width + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (0, 0, 0), 1, cv2.LINE_AA)
    save_png(path, np.concatenate([header] + rows, axis=0))
    return image_ids


def save_png(path, bgr):
    """Write a BGR image as a 256-colour PNG (a quarter of the size) when Pillow is
    installed (it comes with matplotlib), else as a full-colour PNG."""
    try:
        from PIL import Image
    except ImportError:
        cv2.imwrite(path, bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        return
    image = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                   dither=Image.Dither.NONE).save(path, optimize=True)

