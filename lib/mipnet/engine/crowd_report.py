"""The crowd report of ``tools/test.py --crowd-report`` (``TEST.CROWD_REPORT true``): what
a checkpoint does in crowds, printed after the usual AP table and written as
``crowd_report.json`` and ``crowd_report.png`` into the run folder.

It is single-pass: the occluded subset, the crowd-error rate and the people found come from
the predictions of the main evaluation (its result files and the per-box keypoints before
rescoring and OKS-NMS); only the crowd-merged boxes run the model again. The pieces are the
functions of :mod:`mipnet.evaluation.crowd`, which the MIPNet-vs-HRNet comparison
(:mod:`mipnet.analysis.evaluation`) calls too.

Rows that do not apply are left out, with the reason in the JSON (``not_applicable``): a
one-instance model (HRNet) has no per-instance rows and no people found only by instances
k >= 1; detected boxes (``TEST.USE_GT_BBOX false``) belong to nobody, so there is no
crowd-error rate and no crowd-merged run; AP (E/M/H) is CrowdPose's.
"""
import json
import logging
import math
import os
import time

from mipnet.data import build_dataset, build_loader
from mipnet.engine.evaluate import (evaluate_predictions, gather_predictions, modes_of,
                                    results_file, run_inference)
from mipnet.evaluation.crowd import (FOUND_OKS, crowd_error_groups, occluded_subset_metrics,
                                     people_found)
from mipnet.evaluation.inference import predictor_from_cfg
from mipnet.evaluation.metrics import format_metric, load_coco
from mipnet.evaluation.subsets import OCCLUDED_IOU, crowd_merged_boxes, occluded_ann_ids
from mipnet.utils import dist

logger = logging.getLogger(__name__)

__all__ = ['crowd_merged_evaluation', 'crowd_report', 'format_crowd_report', 'REPORT_FILE',
           'FIGURE_FILE', 'CROWD_MERGED_DIR']

REPORT_FILE = 'crowd_report.json'
FIGURE_FILE = 'crowd_report.png'
#: sub-folder of the run folder with the crowd-merged boxes and their result files
CROWD_MERGED_DIR = 'crowd_merged'


def crowd_merged_evaluation(cfg, model, device, gt_file, out_dir, occluded_ids=None,
                            progress=True):
    """``model`` evaluated on crowd-merged boxes
    (:func:`~mipnet.evaluation.subsets.crowd_merged_boxes`: of two people whose boxes
    overlap with IoU >= 0.5 only the more visible one keeps a box, as after a detector's box
    NMS), through the same inference, rescoring, OKS-NMS and metric as ``cfg``'s
    evaluation. Every rank calls it (the inference is sharded).

    Args:
        cfg: the evaluation's config (its boxes are replaced by the crowd-merged ones).
        model: the network, on ``device``, in eval mode.
        device: torch device.
        gt_file: the ground truth of the test set (path, dataset dict or COCO object).
        out_dir: folder for ``crowd_merged_boxes.json`` and ``results/``.
        occluded_ids: annotation ids of the occluded subset (None: computed from
            ``gt_file``).
        progress: progress bar / lines of the inference.

    Returns:
        on rank 0 dict 'boxes' (number of boxes), 'metrics' ({mode key: metrics}), 'occluded'
        ({mode key: metrics of the occluded subset}); None on other ranks.
    """
    box_file = os.path.join(out_dir, 'crowd_merged_boxes.json')
    if dist.is_main_process():
        os.makedirs(out_dir, exist_ok=True)
        boxes = crowd_merged_boxes(gt_file)
        with open(box_file + '.tmp', 'w') as f:
            json.dump(boxes, f)
        os.replace(box_file + '.tmp', box_file)
    dist.barrier()
    merged_cfg = cfg.clone()
    merged_cfg.defrost()
    merged_cfg.TEST.USE_GT_BBOX = False
    merged_cfg.TEST.COCO_BBOX_FILE = os.path.abspath(box_file)
    merged_cfg.TEST.IMAGE_THRE = 0.0
    merged_cfg.freeze()
    dataset = build_dataset(merged_cfg, is_train=False, device_targets=True)
    loader = build_loader(merged_cfg, dataset, False, device)
    predictor = predictor_from_cfg(merged_cfg, model, dataset.meta.flip_index)
    predictions = gather_predictions(run_inference(predictor, loader, device, progress))
    if predictions is None:
        return None
    metrics = evaluate_predictions(predictions, dataset, merged_cfg, out_dir)
    if occluded_ids is None:
        occluded_ids = occluded_ann_ids(gt_file)
    files = {mode.key: results_file(out_dir, merged_cfg.DATASET.TEST_SET, mode)
             for mode in modes_of(metrics)}
    return dict(boxes=len(boxes), metrics=metrics,
                occluded=occluded_subset_metrics(gt_file, files, dataset.meta, occluded_ids))


def _finite(value):
    """JSON has no NaN: None instead."""
    return None if isinstance(value, float) and math.isnan(value) else value


def crowd_report(cfg, model, dataset, predictions, metrics, output_dir, device,
                 checkpoint=None, progress=True):
    """The crowd report of one evaluation (see the module docstring). Every rank calls it.

    Args:
        cfg: the evaluation's config.
        model: the evaluated network (run again only on crowd-merged boxes).
        dataset: the evaluation's dataset (``annotation_file``, ``meta``, ``db``,
            ``use_gt_bbox``).
        predictions: rank 0: the gathered predictions of the main evaluation
            (:func:`mipnet.engine.evaluate.run_inference`: 'index', 'keypoints' (M, K, J, 3),
            ...); other ranks: None.
        metrics: rank 0: the main evaluation's metrics (its result files are in
            ``output_dir``/results); other ranks: None.
        output_dir: the run folder: ``crowd_report.json``, ``crowd_report.png`` and
            ``crowd_merged/``.
        device: torch device of ``model``.
        checkpoint: the evaluated weights file, recorded in the report.
        progress: progress bar / lines of the crowd-merged inference.

    Returns:
        the report dict on rank 0 (what ``crowd_report.json`` holds), None elsewhere.
    """
    start = time.perf_counter()
    merged_run, merged_seconds = None, None
    gt_file = dataset.annotation_file
    occluded = occluded_ann_ids(gt_file) if dist.is_main_process() else None
    if dataset.use_gt_bbox:
        merged_start = time.perf_counter()
        merged_run = crowd_merged_evaluation(cfg, model, device, gt_file,
                                             os.path.join(output_dir, CROWD_MERGED_DIR),
                                             occluded, progress)
        merged_seconds = time.perf_counter() - merged_start
    if not dist.is_main_process():
        return None
    meta = dataset.meta
    gt = load_coco(gt_file)
    modes = modes_of(metrics)
    files = {mode.key: results_file(output_dir, cfg.DATASET.TEST_SET, mode) for mode in modes}
    num_instances = int(predictions['keypoints'].shape[1])
    report = dict(model=cfg.MODEL.NAME, checkpoint=checkpoint, dataset=meta.name,
                  annotation_file=os.path.abspath(gt_file), boxes=dataset.box_source,
                  instances=num_instances, found_oks=FOUND_OKS, occluded_iou=OCCLUDED_IOU,
                  not_applicable={})
    occluded_metrics = occluded_subset_metrics(gt, files, meta, occluded)
    report['occluded_subset'] = dict(
        people=int(next(iter(occluded_metrics.values()))['num_gt']),
        metrics={key: {name: metrics[key][name] for name in ('AP', 'AR')} for key in files},
        occluded={key: {name: m[name] for name in ('AP', 'AR')}
                  for key, m in occluded_metrics.items()})
    if merged_run is not None:
        report['crowd_merged_boxes'] = dict(
            boxes=merged_run['boxes'],
            metrics={key: {name: m[name] for name in ('AR', 'AR .5')}
                     for key, m in merged_run['metrics'].items()},
            occluded={key: {name: m[name] for name in ('AR', 'AR .5')}
                      for key, m in merged_run['occluded'].items()})
    else:
        report['not_applicable']['crowd_merged_boxes'] = \
            'needs ground-truth boxes (TEST.USE_GT_BBOX true) to merge them'
    if dataset.use_gt_bbox:
        ann_ids = [dataset.db[int(i)]['ann_id'] for i in predictions['index']]
        groups = crowd_error_groups(gt, ann_ids, predictions['keypoints'], meta, occluded)
        report['crowd_error_rate'] = {
            name: dict({k: int(v) for k, v in counts.items() if k != 'crowd_error_rate'},
                       rate=_finite(counts['crowd_error_rate']))
            for name, counts in groups.items()}
    else:
        report['not_applicable']['crowd_error_rate'] = \
            'a detected box has no own person: needs ground-truth boxes (TEST.USE_GT_BBOX true)'
    report['people_found'] = people_found(gt, files, meta, occluded)
    if num_instances < 2:
        report['not_applicable']['instances'] = \
            f'{cfg.MODEL.NAME} predicts one pose per box: no per-instance rows'
    if meta.evaluator == 'crowdpose':
        report['crowd_index_ap'] = {key: {name: metrics[key][name]
                                          for name in ('AP (E)', 'AP (M)', 'AP (H)')}
                                    for key in files}
    report['seconds'] = dict(total=time.perf_counter() - start,
                             crowd_merged_boxes=merged_seconds)
    report_path = os.path.join(output_dir, REPORT_FILE)
    figure_path = os.path.join(output_dir, FIGURE_FILE)
    try:
        from mipnet.vis.plots import crowd_report_figure
        crowd_report_figure(report, figure_path)
        report['figure'] = figure_path
    except ImportError:
        report['figure'] = None
        logger.warning('%s not drawn: matplotlib is not installed (pip install -e .[plot])',
                       figure_path)
    report['seconds']['total'] = time.perf_counter() - start
    with open(report_path, 'w') as f:
        json.dump(report, f, indent=1)
    logger.info('%s\n%s written%s', format_crowd_report(report), report_path,
                f', figure {figure_path}' if report['figure'] else '')
    return report


def _mode_label(key, num_instances):
    if num_instances < 2:
        return 'instance 0 (the only one)'
    return 'merged (all instances)' if key == 'merged' else key


def _rate(counts):
    if counts['rate'] is None:
        return 'n/a'
    return f'{100 * counts["rate"]:.1f} % ({counts["other"]} of {counts["people"]})'


def format_crowd_report(report):
    """The text of a crowd report dict (:func:`crowd_report`): Markdown tables, one per
    part, only the rows that apply, then the time it added."""
    k = report['instances']
    subset = report['occluded_subset']
    lines = [f'Crowd report of {report["model"]} on {report["dataset"]} '
             f'{os.path.basename(report["annotation_file"])} ({report["boxes"]}). Occluded: '
             f'box IoU >= {report["occluded_iou"]} with another person\'s box; found: a pose '
             f'with OKS >= {report["found_oks"]}.', '',
             f'Occluded subset: {subset["people"]} of {report["people_found"]["people"]["all"]}'
             ' people.', '',
             '| Instances | AP | AR | AP occluded | AR occluded |', '|---|---|---|---|---|']
    for key, m in subset['metrics'].items():
        o = subset['occluded'][key]
        lines.append(f'| {_mode_label(key, k)} | {format_metric(m["AP"])} | '
                     f'{format_metric(m["AR"])} | {format_metric(o["AP"])} | '
                     f'{format_metric(o["AR"])} |')
    merged = report.get('crowd_merged_boxes')
    if merged:
        lines += ['', f'Crowd-merged boxes (of two people whose boxes overlap with IoU >= '
                  f'{report["occluded_iou"]} only the more visible one keeps a box, as after a '
                  f'detector\'s NMS): {merged["boxes"]} boxes.', '',
                  '| Instances | AR | AR .5 | AR occluded | AR .5 occluded |',
                  '|---|---|---|---|---|']
        for key, m in merged['metrics'].items():
            o = merged['occluded'][key]
            lines.append(f'| {_mode_label(key, k)} | {format_metric(m["AR"])} | '
                         f'{format_metric(m["AR .5"])} | {format_metric(o["AR"])} | '
                         f'{format_metric(o["AR .5"])} |')
    errors = report.get('crowd_error_rate')
    if errors:
        lines += ['', 'Crowd-error rate of instance 0 (the pose from a person\'s own box is '
                  'another person):', '', '| | all | occluded | others |', '|---|---|---|---|',
                  '| crowd-error rate | ' + ' | '.join(_rate(errors[g]) for g in
                                                       ('all', 'occluded', 'others')) + ' |']
    found = report['people_found']
    people = found['people']
    lines += ['', f'| People found (OKS >= {report["found_oks"]}) | all ({people["all"]}) | '
              f'occluded ({people["occluded"]}) |', '|---|---|---|']
    names = {'any instance': 'by any instance (each alone)',
             'only instance >= 1': 'only by instances k >= 1'}
    for row, counts in found['found'].items():
        label = names.get(row, _mode_label(row, k))
        lines.append(f'| {label} | {counts["all"]} | {counts["occluded"]} |')
    if 'crowd_index_ap' in report:
        lines += ['', '| Instances | AP (E) | AP (M) | AP (H) |', '|---|---|---|---|']
        for key, m in report['crowd_index_ap'].items():
            lines.append(f'| {_mode_label(key, k)} | ' + ' | '.join(
                format_metric(m[name]) for name in ('AP (E)', 'AP (M)', 'AP (H)')) + ' |')
    if report['not_applicable']:
        lines += [''] + [f'Not shown: {what}: {why}.'
                         for what, why in report['not_applicable'].items()]
    seconds = report['seconds']
    lines += ['', f'The crowd report added {seconds["total"]:.1f} s'
              + (f' (crowd-merged boxes: {seconds["crowd_merged_boxes"]:.1f} s)'
                 if seconds['crowd_merged_boxes'] is not None else '') + '.']
    return '\n'.join(lines)
