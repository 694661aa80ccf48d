"""HRNet's training accuracy: PCK on heatmap argmax, threshold 0.5 of heatmap size / 10."""
import numpy as np

from mipnet.evaluation.decode import get_max_preds


def heatmap_accuracy(output, target, thr=0.5):
    """Fraction of joints whose argmax lies within ``thr`` * (heatmap size / 10) of the target's.

    Args:
        output: NumPy (B, J, h, w) predicted heatmaps.
        target: NumPy (B, J, h, w) target heatmaps; joints whose target argmax has x <= 1 or
            y <= 1 (no Gaussian) do not count, as in HRNet.

    Returns:
        (per-joint accuracy (J,) with -1 where no joint counted, average accuracy, count of
        joints with a valid accuracy).
    """
    b, j, h, w = output.shape
    pred, _ = get_max_preds(output.astype(np.float32))
    gt, _ = get_max_preds(target.astype(np.float32))
    # HRNet normalises (x, y) by (h, w) / 10; kept identical so numbers compare with it.
    norm = np.array([h, w], dtype=np.float32) / 10
    valid = (gt[..., 0] > 1) & (gt[..., 1] > 1)                       # (B, J)
    dists = np.linalg.norm(pred / norm - gt / norm, axis=-1)           # (B, J)
    hits = ((dists < thr) & valid).sum(axis=0)
    counts = valid.sum(axis=0)
    per_joint = np.where(counts > 0, hits / np.maximum(counts, 1), -1.0)
    good = per_joint >= 0
    avg = float(per_joint[good].mean()) if good.any() else 0.0
    return per_joint, avg, int(good.sum())
