"""Multi-instance post-processing: pose rescoring, per-image OKS-NMS over all instances
of all boxes, and conversion to COCO keypoint results.

MIPNet predicts, for each person box, K poses (instance k = 0 is the box's primary person,
k >= 1 secondary people overlapping the box). Each pose becomes a candidate scored
``box_score * mean(joint confidences > in_vis_thre)`` (0 if no joint passes), secondary
candidates are multiplied by ``decay`` (``TEST.DECAY_THRE``), and OKS-NMS over all
candidates of an image removes the duplicates (the same person predicted as instance 0 of
its own box and instance 1 of a neighbour's box).
"""
import logging

import numpy as np

from mipnet.evaluation.nms import oks_nms_arrays, resolve_sigmas, soft_oks_nms_arrays
from mipnet.data.transforms import PIXEL_STD

logger = logging.getLogger(__name__)

__all__ = ['rescore', 'rescore_and_merge', 'nms_areas', 'postprocess_options_from_cfg']


def postprocess_options_from_cfg(cfg):
    """Keyword arguments of :func:`rescore_and_merge` from a config's ``TEST`` node."""
    return {
        'in_vis_thre': float(cfg.TEST.IN_VIS_THRE),
        'decay': float(cfg.TEST.DECAY_THRE),
        'oks_thre': float(cfg.TEST.OKS_THRE),
        'soft_nms': bool(cfg.TEST.SOFT_NMS),
        'nms_area': str(cfg.TEST.NMS_AREA),
    }


def rescore(maxvals, box_scores, instance_ids=None, in_vis_thre=0.0, decay=1.0):
    """Pose scores.

    Args:
        maxvals: (N, J, 1) or (N, J) joint confidences.
        box_scores: (N,) person box scores.
        instance_ids: (N,) instance index of each pose (None: all 0).
        in_vis_thre: joints with confidence > in_vis_thre enter the mean.
        decay: multiplier of poses with instance id >= 1.

    Returns:
        (N,) float64 scores: box_score * mean(conf > in_vis_thre) (0 if none), times
        ``decay`` for secondary instances.
    """
    conf = np.asarray(maxvals, dtype=np.float64)
    if conf.ndim == 3:  # (N, J, 1)
        conf = conf[..., 0]
    valid = conf > in_vis_thre
    count = valid.sum(axis=1)
    total = np.where(valid, conf, 0.0).sum(axis=1)
    kpt_score = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    scores = kpt_score * np.asarray(box_scores, dtype=np.float64).reshape(-1)
    if instance_ids is not None:
        inst = np.asarray(instance_ids).reshape(-1)
        scores = np.where(inst >= 1, scores * decay, scores)
    return scores


def nms_areas(preds, scales, mode='box'):
    """Areas that scale the OKS of OKS-NMS.

    Args:
        preds: (N, J, 2) poses in image coordinates.
        scales: (N, 2) box scales (units of 200 px).
        mode: 'box': ``prod(scale * 200)``, the padded box (HRNet's reference); 'pose': the
            area of the bounding box of the pose's joints (at least 1 px²).

    Returns:
        (N,) float64 areas.
    """
    if mode == 'box':
        return np.prod(np.asarray(scales, dtype=np.float64) * PIXEL_STD, axis=1)
    if mode == 'pose':
        preds = np.asarray(preds, dtype=np.float64)
        extent = preds.max(axis=1) - preds.min(axis=1)
        return np.maximum(np.prod(extent, axis=1), 1.0)
    raise ValueError(f"NMS area {mode!r} is not 'box' or 'pose'")


def _py_id(x):
    return x.item() if isinstance(x, np.generic) else x


def rescore_and_merge(preds, maxvals, scales, box_scores, image_ids, instance_ids=None, *,
                      in_vis_thre=0.0, decay=0.5, oks_thre=0.5, soft_nms=False, nms_area='box',
                      nms=True, sigmas=None, instances=None, category_id=1,
                      return_indices=False):
    """Rescore all poses, run OKS-NMS per image and return COCO keypoint results.

    Defaults mirror the config defaults (TEST.IN_VIS_THRE, TEST.DECAY_THRE, TEST.OKS_THRE,
    TEST.SOFT_NMS); see :func:`postprocess_options_from_cfg`.

    Args:
        preds: (N, J, 2) image coordinates of every pose (one row per box and instance).
        maxvals: (N, J, 1) or (N, J) joint confidences.
        scales: (N, 2) box scales (units of 200 px); with ``nms_area='box'`` the NMS area
            of a pose is that of its box, ``prod(scale * 200)``.
        box_scores: (N,) person box scores.
        image_ids: (N,) image id of each pose.
        instance_ids: (N,) instance index k of each pose (None: all 0).
        in_vis_thre: confidence threshold of the pose score. The NMS OKS uses all joints
            (HRNet calls oks_nms without in_vis_thre).
        decay: score multiplier of instances k >= 1.
        oks_thre: OKS-NMS threshold.
        soft_nms: use soft OKS-NMS (Gaussian decay, at most 20 poses per image; the
            reported scores are the undecayed ones, as in HRNet) instead of greedy NMS.
        nms_area: 'box' or 'pose', the area scaling the NMS OKS (:func:`nms_areas`).
        nms: False keeps every rescored pose (the reference's CrowdPose evaluation).
        sigmas: (J,) OKS sigmas or a dataset name; None means COCO's 17.
        instances: None for all instances, or an iterable of instance ids to keep before
            NMS (e.g. ``[0]`` or ``[1]`` for per-instance AP).
        category_id: category of the results.
        return_indices: also return the input row of every result.

    Poses with a non-finite keypoint, score or NMS area are left out (counted in a warning).

    Returns:
        list of dicts ``{'image_id', 'category_id', 'keypoints': [x, y, conf] * J (floats),
        'score', 'instance'}``, grouped by image (images in ascending id order) and in
        NMS order within an image; with ``return_indices`` the pair (results, (R,) int64
        array of the input rows they come from).
    """
    preds = np.asarray(preds, dtype=np.float64)
    n, j = preds.shape[:2]
    conf = np.asarray(maxvals, dtype=np.float64).reshape(n, j)
    scales = np.asarray(scales, dtype=np.float64).reshape(n, 2)
    box_scores = np.asarray(box_scores, dtype=np.float64).reshape(n)
    image_ids = np.asarray(image_ids).reshape(n)
    inst = (np.zeros(n, dtype=np.int64) if instance_ids is None
            else np.asarray(instance_ids, dtype=np.int64).reshape(n))

    sigmas = resolve_sigmas(sigmas, j)
    scores = rescore(conf, box_scores, inst, in_vis_thre, decay)
    areas = nms_areas(preds, scales, nms_area)
    kpts = np.concatenate([preds, conf[..., None]], axis=2)  # (N, J, 3)

    # A NaN pose (e.g. from an absurd detection box) would be written to the results and
    # scored as a match by the OKS (NaN < threshold is False); such poses are left out.
    finite = (np.isfinite(kpts).all(axis=(1, 2)) & np.isfinite(scores) & np.isfinite(areas))
    selected = np.flatnonzero(finite)
    if selected.size < n:
        logger.warning('%d of %d poses have non-finite keypoints, score or area and are left '
                       'out of the results', n - selected.size, n)
    if instances is not None:
        selected = selected[np.isin(inst[selected], np.asarray(list(instances), dtype=np.int64))]
    if selected.size == 0:
        return ([], np.zeros(0, dtype=np.int64)) if return_indices else []

    uniq, group = np.unique(image_ids[selected], return_inverse=True)
    order = np.argsort(group, kind='stable')
    bounds = np.searchsorted(group[order], np.arange(len(uniq) + 1))
    rows, row_image = [], []
    for g, image_id in enumerate(uniq):
        idx = selected[order[bounds[g]:bounds[g + 1]]]
        if not nms:
            keep = np.arange(len(idx))
        elif soft_nms:
            keep, _ = soft_oks_nms_arrays(kpts[idx], scores[idx], areas[idx], oks_thre,
                                          sigmas)
        else:
            keep = oks_nms_arrays(kpts[idx], scores[idx], areas[idx], oks_thre, sigmas)
        rows.append(idx[keep])
        row_image.extend([_py_id(image_id)] * len(keep))
    rows = np.concatenate(rows).astype(np.int64)
    flat_kpts = kpts[rows].reshape(len(rows), -1).tolist()
    kept_scores = scores[rows].tolist()
    kept_inst = inst[rows].tolist()
    results = [{'image_id': image_id, 'category_id': category_id, 'keypoints': kp,
                'score': score, 'instance': k}
               for image_id, kp, score, k in zip(row_image, flat_kpts, kept_scores, kept_inst)]
    logger.debug('rescore_and_merge: %d poses in, %d kept over %d images',
                  selected.size, len(results), len(uniq))
    if return_indices:
        return results, rows
    return results
