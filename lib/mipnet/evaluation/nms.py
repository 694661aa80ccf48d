"""Object-keypoint-similarity (OKS) IoU and OKS-based non-maximum suppression (HRNet).

OKS between a pose g and poses d (areas a_g, a_d, per-joint sigmas s)::

    e_j = d_j^2 / (2 s_j)^2 / ((a_g + a_d) / 2 + eps) / 2
    OKS = mean_j exp(-e_j)

where the mean runs over all joints, or, when ``in_vis_thre`` is given, over the joints
whose confidence (third keypoint column) exceeds ``in_vis_thre`` in both poses (HRNet meant
this; its list-``and`` actually kept only the detection's mask). A pose pair with no such
joint has OKS 0.
"""
import logging

import numpy as np

from mipnet.data.metadata import get_keypoint_meta

logger = logging.getLogger(__name__)

__all__ = ['oks_iou', 'oks_nms', 'soft_oks_nms', 'oks_nms_arrays', 'soft_oks_nms_arrays',
           'resolve_sigmas']


def resolve_sigmas(sigmas, num_joints):
    """(J,) float64 OKS sigmas from an array, a dataset name, or None (COCO's 17)."""
    if sigmas is None:
        sigmas = get_keypoint_meta('coco').sigmas_array
    elif isinstance(sigmas, str):
        sigmas = get_keypoint_meta(sigmas).sigmas_array
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if len(sigmas) != num_joints:
        raise ValueError(f'{len(sigmas)} OKS sigmas for {num_joints} joints; pass the '
                         f"dataset's sigmas (e.g. get_keypoint_meta('crowdpose').sigmas)")
    return sigmas


def _as_poses(kpts):
    """(J, 3), (3J,), (N, J, 3) or (N, 3J) -> float64 (..., J, 3)."""
    kpts = np.asarray(kpts, dtype=np.float64)
    if kpts.shape[-1] != 3:
        kpts = kpts.reshape(kpts.shape[:-1] + (-1, 3))
    return kpts


def oks_iou(g, d, a_g, a_d, sigmas=None, in_vis_thre=None):
    """OKS between one pose and several others.

    Args:
        g: (J, 3) or flat (3J,) pose (x, y, confidence).
        d: (M, J, 3) or (M, 3J) poses.
        a_g: area of ``g``.
        a_d: (M,) areas of ``d``.
        sigmas: (J,) per-joint OKS sigmas, a dataset name, or None for COCO's 17.
        in_vis_thre: if not None, only joints with confidence > in_vis_thre in both poses
            count.

    Returns:
        (M,) float64 OKS values.
    """
    g = _as_poses(g)
    d = _as_poses(d)
    if d.ndim == 2:
        d = d[None]
    sig = resolve_sigmas(sigmas, g.shape[-2])
    vars_ = (sig * 2) ** 2
    a_d = np.asarray(a_d, dtype=np.float64).reshape(-1)
    dist2 = ((d[..., :2] - g[None, :, :2]) ** 2).sum(-1)  # (M, J)
    e = dist2 / vars_ / ((a_g + a_d)[:, None] / 2 + np.spacing(1)) / 2
    sim = np.exp(-e)
    if in_vis_thre is None:
        return sim.mean(axis=1)
    mask = (g[None, :, 2] > in_vis_thre) & (d[..., 2] > in_vis_thre)
    count = mask.sum(axis=1)
    total = (sim * mask).sum(axis=1)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _db_to_arrays(kpts_db):
    kpts = np.stack([_as_poses(k['keypoints']) for k in kpts_db])
    scores = np.array([float(k['score']) for k in kpts_db], dtype=np.float64)
    areas = np.array([float(k['area']) for k in kpts_db], dtype=np.float64)
    return kpts, scores, areas


def _descending(scores):
    # stable: equal scores keep their input order
    return np.argsort(-scores, kind='stable')


def oks_nms_arrays(kpts, scores, areas, thresh, sigmas=None, in_vis_thre=None):
    """Greedy OKS-NMS on arrays.

    Args:
        kpts: (N, J, 3) poses; scores: (N,); areas: (N,).
        thresh: poses with OKS > thresh to an already kept pose are suppressed.

    Returns:
        list of kept indices (ints), highest score first.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return []
    kpts = _as_poses(kpts)
    areas = np.asarray(areas, dtype=np.float64)
    sig = resolve_sigmas(sigmas, kpts.shape[1])
    order = _descending(scores)
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        if rest.size == 0:
            break
        ovr = oks_iou(kpts[i], kpts[rest], areas[i], areas[rest], sig, in_vis_thre)
        order = rest[ovr <= thresh]
    return keep


def soft_oks_nms_arrays(kpts, scores, areas, thresh, sigmas=None, in_vis_thre=None,
                        max_dets=20, method='gaussian'):
    """Soft OKS-NMS on arrays (HRNet ``soft_oks_nms``).

    Repeatedly keeps the best remaining pose and decays the scores of the others by their
    OKS ``o`` to it: ``gaussian`` (default, as HRNet): ``s *= exp(-o^2 / thresh)``;
    ``linear``: ``s *= 1 - o`` where ``o >= thresh``. Stops after ``max_dets`` poses
    (HRNet: 20).

    Returns:
        (keep, decayed): list of kept indices in selection order, and (len(keep),) float64
        scores of the kept poses after decay (HRNet reports the original scores).
    """
    if method not in ('gaussian', 'linear'):
        raise ValueError(f"method must be 'gaussian' or 'linear', got {method!r}")
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return [], np.zeros(0)
    kpts = _as_poses(kpts)
    areas = np.asarray(areas, dtype=np.float64)
    sig = resolve_sigmas(sigmas, kpts.shape[1])
    order = _descending(scores)
    cur = scores[order]
    keep, decayed = [], []
    while order.size > 0 and len(keep) < max_dets:
        i = order[0]
        keep.append(int(i))
        decayed.append(cur[0])
        rest, cur = order[1:], cur[1:]
        if rest.size == 0:
            break
        ovr = oks_iou(kpts[i], kpts[rest], areas[i], areas[rest], sig, in_vis_thre)
        if method == 'linear':
            cur = np.where(ovr >= thresh, cur * (1 - ovr), cur)
        else:
            cur = cur * np.exp(-ovr ** 2 / thresh)
        resort = _descending(cur)
        order, cur = rest[resort], cur[resort]
    return keep, np.asarray(decayed, dtype=np.float64)


def oks_nms(kpts_db, thresh, sigmas=None, in_vis_thre=None):
    """Greedy OKS-NMS (HRNet ``oks_nms``).

    Args:
        kpts_db: list of dicts with 'keypoints' ((J, 3) array or flat list of 3J values,
            x, y, confidence), 'score' and 'area'.
        thresh: OKS threshold; a pose with OKS > thresh to a kept pose is dropped.
        sigmas: (J,) per-joint sigmas, a dataset name, or None for COCO's 17.
        in_vis_thre: if given, only joints with confidence > in_vis_thre (in both poses)
            enter the OKS.

    Returns:
        list of kept indices into ``kpts_db``, in descending score order (ties keep input
        order).
    """
    if len(kpts_db) == 0:
        return []
    return oks_nms_arrays(*_db_to_arrays(kpts_db), thresh, sigmas, in_vis_thre)


def soft_oks_nms(kpts_db, thresh, sigmas=None, in_vis_thre=None, max_dets=20,
                 method='gaussian', return_scores=False):
    """Soft OKS-NMS (HRNet ``soft_oks_nms``, Gaussian decay ``exp(-oks^2 / thresh)`` by
    default, at most ``max_dets`` poses kept). See :func:`soft_oks_nms_arrays`.

    Returns:
        list of kept indices in selection order; with ``return_scores`` also the (K,)
        decayed scores of the kept poses.
    """
    if len(kpts_db) == 0:
        return ([], np.zeros(0)) if return_scores else []
    keep, decayed = soft_oks_nms_arrays(*_db_to_arrays(kpts_db), thresh, sigmas,
                                        in_vis_thre, max_dets, method)
    return (keep, decayed) if return_scores else keep
