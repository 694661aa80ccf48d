"""The evaluation loop: sharded multi-instance inference, gather on rank 0, rescoring and
OKS-NMS, COCO / CrowdPose metrics for every instance alone and for all merged.

Only decoded keypoints are kept per box (K x J x 3 floats), never heatmaps, so memory grows
with the number of boxes, not with heatmap size.
"""
import logging
import os
from collections import OrderedDict
from typing import NamedTuple, Optional

import numpy as np

from mipnet.data.targets import normalize_crops
from mipnet.evaluation import format_metrics_table, keypoint_eval
from mipnet.evaluation.metrics import metrics_table_note
from mipnet.evaluation.inference import predictor_from_cfg
from mipnet.evaluation.postprocess import postprocess_options_from_cfg, rescore_and_merge
from mipnet.utils import dist
from mipnet.utils.files import AtomicFiles, json_writer
from mipnet.utils.progress import Progress

logger = logging.getLogger(__name__)


class InstanceMode(NamedTuple):
    """One way of reading a λ model's poses: every instance merged (``instance`` None) or
    one instance alone."""
    instance: Optional[int] = None

    @property
    def key(self):
        """Key of the mode in the metrics dicts: 'merged' or 'instance k'."""
        return 'merged' if self.instance is None else f'instance {self.instance}'

    @property
    def instances(self):
        """The instances whose poses it keeps: None (all) or [k]."""
        return None if self.instance is None else [self.instance]


MERGED = InstanceMode()


def instance_modes(num_instances):
    """The modes validation evaluates for a model with ``num_instances`` instances: merged
    first, then each instance alone when there are several."""
    return [MERGED] + ([InstanceMode(i) for i in range(num_instances)]
                       if num_instances > 1 else [])


def modes_of(metrics):
    """The :class:`InstanceMode` of every entry of a metrics dict :func:`validate` returned,
    in its order."""
    modes = instance_modes(max(1, len(metrics) - 1))
    if [m.key for m in modes] != list(metrics):
        raise ValueError(f'not a metrics dict of validate: modes {list(metrics)}')
    return modes


def results_file_name(dataset_set, mode=MERGED):
    """Name of the results file of ``mode`` (an :class:`InstanceMode`) on the image set
    ``dataset_set`` (``DATASET.TEST_SET``): ``keypoints_<set>_results_<merged|instanceK>.json``."""
    tag = 'merged' if mode.instance is None else f'instance{mode.instance}'
    return f'keypoints_{dataset_set}_results_{tag}.json'


def results_file(output_dir, dataset_set, mode=MERGED):
    """Path of the results file validation writes for ``mode`` on ``dataset_set`` into the
    run folder ``output_dir``: ``output_dir/results/`` + :func:`results_file_name`."""
    return os.path.join(output_dir, 'results', results_file_name(dataset_set, mode))


def _color_rgb(dataset):
    """``color_rgb`` of a dataset, also through ``torch.utils.data.Subset`` wrappers."""
    while not hasattr(dataset, 'color_rgb') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    if not hasattr(dataset, 'color_rgb'):
        raise TypeError(f'run_inference got uint8 crops from a {type(dataset).__name__}, which '
                        'does not say their channel order (color_rgb); give it a '
                        'COCOStyleDataset or a Subset of one, or items with float images.')
    return dataset.color_rgb


def run_inference(predictor, loader, device, progress=True):
    """Keypoints of every box this rank sees.

    ``loader`` yields either item form of :class:`~mipnet.data.coco.COCOStyleDataset`:
    ``(images (B, 3, H, W), target, target_weight, meta)``, or, for a dataset built with
    ``device_targets`` (what evaluation builds), ``(crops uint8 (B, H, W, 3), meta)``, whose
    crops are normalised on ``device`` (the same float32 images, no targets drawn).
    With ``progress`` (rank 0) a tqdm bar on a terminal, else a log line every ~10 % or 30 s
    (:class:`mipnet.utils.progress.Progress`).

    Returns:
        dict of NumPy arrays over the M boxes: 'index' (M,) dataset indices, 'keypoints'
        (M, K, J, 3), 'center' (M, 2), 'scale' (M, 2), 'score' (M,), 'image_id' (M,).
    """
    predictor.model.eval()
    parts = {k: [] for k in ('keypoints', 'center', 'scale', 'score', 'image_id', 'index')}
    bar = Progress(_num_boxes(loader), 'eval', unit='boxes',
                   enabled=progress and dist.is_main_process(), logger=logger)
    color_rgb = None
    for batch in loader:
        if len(batch) == 2:
            crops, meta = batch
            if color_rgb is None:
                color_rgb = _color_rgb(loader.dataset)
            images = normalize_crops(crops.to(device, non_blocking=True), color_rgb)
        else:
            images, _, _, meta = batch
            images = images.to(device, non_blocking=True)
        centers = meta['center'].numpy()
        scales = meta['scale'].numpy()
        parts['keypoints'].append(predictor(images, centers, scales))
        parts['center'].append(centers)
        parts['scale'].append(scales)
        parts['score'].append(meta['score'].numpy().astype(np.float64))
        parts['image_id'].append(meta['image_id'].numpy().astype(np.int64))
        parts['index'].append(meta['index'].numpy().astype(np.int64))
        bar.update(len(centers))
    bar.close()
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}


def _num_boxes(loader):
    """Boxes this rank's ``loader`` yields (its sampler's length), 0 when unknown."""
    try:
        return len(loader.sampler)
    except (AttributeError, TypeError):
        return 0


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

    With ``output_dir``, the results of every mode are written to :func:`results_file`
    (all replaced together, atomically).

    Returns:
        OrderedDict mode -> OrderedDict metric -> float, modes 'merged' (first) and
        'instance 0', 'instance 1', ... for λ models.

    Raises:
        FileWriteError: a results file could not be written (named in the message); the
            previous results files are left as they were.
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
    metrics = OrderedDict()
    # The results files of one evaluation are replaced together, each written atomically:
    # a full disk leaves the previous evaluation's files, all of them, as they were.
    with AtomicFiles() as files:
        for mode in instance_modes(k):
            results = rescore_and_merge(**flat, **options, sigmas=dataset.meta.sigmas_array,
                                        instances=mode.instances)
            if output_dir:
                files.write(results_file(output_dir, cfg.DATASET.TEST_SET, mode),
                            json_writer(results))
            metrics[mode.key] = keypoint_eval(dataset.annotation_file, results, dataset.meta)
    return metrics


def log_metrics(metrics, dataset, model_name):
    """Log one Markdown table, a row per instance mode, under a line that states the model,
    the ground truth and the box source of the numbers; metrics with nothing to score read
    'n/a', explained in a line under the table."""
    note = metrics_table_note(metrics, dataset.meta.evaluator)
    logger.info('%s on %s %s, boxes: %s\n%s%s', model_name, dataset.meta.name,
                os.path.basename(dataset.annotation_file), dataset.box_source,
                format_metrics_table(metrics, first_column='Instances'),
                '\n' + note if note else '')


def validate(cfg, model, loader, device, output_dir=None, progress=True,
             keep_predictions=False):
    """Evaluate ``model`` on ``loader`` (sharded across ranks).

    Returns:
        the metrics of :func:`evaluate_predictions` on rank 0, else None; with
        ``keep_predictions`` the pair (metrics, predictions of :func:`run_inference`
        gathered over the ranks), (None, None) on other ranks.
    """
    dataset = loader.dataset
    predictor = predictor_from_cfg(cfg, model, dataset.meta.flip_index)
    local = run_inference(predictor, loader, device, progress)
    predictions = gather_predictions(local)
    if predictions is None:
        return (None, None) if keep_predictions else None
    metrics = evaluate_predictions(predictions, dataset, cfg, output_dir)
    log_metrics(metrics, dataset, cfg.MODEL.NAME)
    return (metrics, predictions) if keep_predictions else metrics


def main_metric(metrics):
    """The number that selects model_best.pth: AP of the merged instances."""
    return float(metrics['merged']['AP'])
