"""The evaluation loop: sharded multi-instance inference, gather on rank 0, rescoring and
OKS-NMS, COCO / CrowdPose metrics for every instance alone and for all merged.

Only decoded keypoints are kept per box (K x J x 3 floats), never heatmaps, so memory grows
with the number of boxes, not with heatmap size.
"""
import json
import logging
import os
from collections import OrderedDict

import numpy as np
import torch
from tqdm import tqdm

from mipnet.evaluation import format_metrics_table, keypoint_eval
from mipnet.evaluation.inference import predictor_from_cfg
from mipnet.evaluation.postprocess import postprocess_options_from_cfg, rescore_and_merge
from mipnet.utils import dist

logger = logging.getLogger(__name__)


def run_inference(predictor, loader, device, progress=True):
    """Keypoints of every box this rank sees.

    Returns:
        dict of NumPy arrays over the M boxes: 'index' (M,) dataset indices, 'keypoints'
        (M, K, J, 3), 'center' (M, 2), 'scale' (M, 2), 'score' (M,), 'image_id' (M,).
    """
    predictor.model.eval()
    parts = {k: [] for k in ('keypoints', 'center', 'scale', 'score', 'image_id', 'index')}
    bar = tqdm(loader, desc='eval',
               disable=not (progress and dist.is_main_process() and os.isatty(1)),
               leave=False, dynamic_ncols=True)
    for images, _, _, meta in bar:
        images = images.to(device, non_blocking=True)
        centers = meta['center'].numpy()
        scales = meta['scale'].numpy()
        parts['keypoints'].append(predictor(images, centers, scales))
        parts['center'].append(centers)
        parts['scale'].append(scales)
        parts['score'].append(meta['score'].numpy().astype(np.float64))
        parts['image_id'].append(meta['image_id'].numpy().astype(np.int64))
        parts['index'].append(meta['index'].numpy().astype(np.int64))
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}


def gather_predictions(local):
    """Concatenate every rank's predictions on rank 0, keeping one per dataset record (the
    DistributedSampler pads with repeats; a skipped broken image returns another record);
    returns None on other ranks."""
    parts = dist.all_gather_objects(local)
    if not dist.is_main_process():
        return None
    merged = {k: np.concatenate([p[k] for p in parts]) for k in local}
    _, first = np.unique(merged['index'], return_index=True)
    return {k: v[first] for k, v in merged.items()}


def evaluate_predictions(predictions, dataset, cfg, output_dir=None):
    """Metrics of merged instances and of each instance alone.

    Returns:
        OrderedDict mode -> OrderedDict metric -> float, modes 'merged' (first) and
        'instance 0', 'instance 1', ... for λ models.
    """
    kpts = predictions['keypoints']
    m, k, j = kpts.shape[:3]
    flat = dict(
        preds=kpts[..., :2].reshape(m * k, j, 2),
        maxvals=kpts[..., 2:].reshape(m * k, j, 1),
        scales=np.repeat(predictions['scale'], k, axis=0),
        box_scores=np.repeat(predictions['score'], k, axis=0),
        image_ids=np.repeat(predictions['image_id'], k, axis=0),
        instance_ids=np.tile(np.arange(k), m),
    )
    options = postprocess_options_from_cfg(cfg)
    # The reference's CrowdPose evaluation keeps every pose ("do not use nms, keep all
    # detections"); TEST.CROWDPOSE_NMS runs OKS-NMS there as on COCO.
    options['nms'] = dataset.meta.evaluator != 'crowdpose' or bool(cfg.TEST.CROWDPOSE_NMS)
    modes = [('merged', None)]
    if k > 1:
        modes += [(f'instance {i}', [i]) for i in range(k)]
    metrics = OrderedDict()
    for mode, instances in modes:
        results = rescore_and_merge(**flat, **options, sigmas=dataset.meta.sigmas_array,
                                    instances=instances)
        if output_dir:
            folder = os.path.join(output_dir, 'results')
            os.makedirs(folder, exist_ok=True)
            name = f'keypoints_{cfg.DATASET.TEST_SET}_results_{mode.replace(" ", "")}.json'
            with open(os.path.join(folder, name), 'w') as f:
                json.dump(results, f)
        metrics[mode] = keypoint_eval(dataset.annotation_file, results, dataset.meta)
    return metrics


def log_metrics(metrics, dataset, model_name):
    """Log one Markdown table, a row per instance mode, under a line that states the model,
    the ground truth and the box source of the numbers."""
    logger.info('%s on %s %s, boxes: %s\n%s', model_name, dataset.meta.name,
                os.path.basename(dataset.annotation_file), dataset.box_source,
                format_metrics_table(metrics, first_column='Instances'))


def validate(cfg, model, loader, device, output_dir=None, progress=True):
    """Evaluate ``model`` on ``loader`` (sharded across ranks); metrics on rank 0, else None."""
    dataset = loader.dataset
    predictor = predictor_from_cfg(cfg, model, dataset.meta.flip_index)
    local = run_inference(predictor, loader, device, progress)
    predictions = gather_predictions(local)
    if predictions is None:
        return None
    metrics = evaluate_predictions(predictions, dataset, cfg, output_dir)
    log_metrics(metrics, dataset, cfg.MODEL.NAME)
    return metrics


def main_metric(metrics):
    """The number that selects model_best.pth: AP of the merged instances."""
    return float(metrics['merged']['AP'])
