"""Box geometry shared by the data statistics and the evaluation subsets."""
import numpy as np

__all__ = ['box_iou_matrix']


def box_iou_matrix(boxes):
    """Pairwise IoU of ``[x, y, w, h]`` boxes (continuous coordinates, no +1).

    Args:
        boxes: (N, 4) array-like.

    Returns:
        (N, N) float64 array (1 on the diagonal for boxes of positive area, 0 where the
        union is empty).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0 = b[:, 0], b[:, 1]
    x1, y1 = x0 + np.maximum(b[:, 2], 0), y0 + np.maximum(b[:, 3], 0)
    iw = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
    inter = iw * ih
    area = (x1 - x0) * (y1 - y0)
    union = area[:, None] + area[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
