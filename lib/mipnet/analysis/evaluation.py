"""Evaluation of trained weights beyond validation's metrics: the occluded subset, each
box's poses before rescoring and OKS-NMS (the crowd error), and crowd-merged boxes, for one
checkpoint or for the HRNet / MIPNet pair of the comparison. The measures are the shared
functions of :mod:`mipnet.evaluation.crowd` and :mod:`mipnet.engine.crowd_report`, which
``tools/test.py --crowd-report`` calls too."""
import json
import os
import time

import torch

from mipnet.analysis.settings import FOUND_OKS, log
from mipnet.config import load_config
from mipnet.data import build_dataset, build_loader
from mipnet.engine.crowd_report import crowd_merged_evaluation
from mipnet.engine.evaluate import (modes_of, predictor_from_cfg, results_file,
                                    run_inference, validate)
from mipnet.evaluation.crowd import crowd_error_groups, occluded_subset_metrics
from mipnet.evaluation.metrics import load_coco
from mipnet.evaluation.subsets import occluded_ann_ids
from mipnet.models import build_model, load_weights
from mipnet.utils.checkpoint import file_sha256
from mipnet.utils.files import write_json_atomic


def annotation_file(cfg, test_set=None):
    """Ground-truth file of the split ``test_set`` (default ``DATASET.TEST_SET``) of the
    synthetic dataset ``cfg`` reads."""
    return os.path.join(cfg.DATASET.ROOT, 'annotations',
                        f'person_keypoints_{test_set or cfg.DATASET.TEST_SET}.json')


def occluded_metrics(gt, out_dir, cfg, metrics, occluded_ids):
    """Per instance mode of ``metrics`` (validation's), the metrics of the occluded subset
    (annotation ids ``occluded_ids`` of the ground truth ``gt``) from the result files that
    validation wrote under ``out_dir``
    (:func:`mipnet.evaluation.crowd.occluded_subset_metrics`)."""
    return occluded_subset_metrics(gt, results_files(out_dir, cfg, metrics),
                                   cfg.DATASET.TEST_DATASET, occluded_ids)


def results_files(out_dir, cfg, metrics):
    """{mode key: results file} of every instance mode of ``metrics``."""
    return {mode.key: results_file(out_dir, cfg.DATASET.TEST_SET, mode)
            for mode in modes_of(metrics)}


def final_model_and_data(cfg, weights, device):
    """The checkpoint ``weights`` (a run's ``final_state.pth``) in a model built from
    ``cfg``, with the evaluation dataset and loader ``cfg`` describes."""
    model = build_model(cfg)
    load_weights(model, cfg, weights)
    dataset = build_dataset(cfg, is_train=False, device_targets=True)
    return model, dataset, build_loader(cfg, dataset, False, device)


def eval_device(cfg):
    """The torch device the evaluation helpers run on (``cfg.DEVICE``; 'auto': CUDA when
    available)."""
    if cfg.DEVICE == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(cfg.DEVICE)


def per_box_outcomes(cfg, weights, gt, occluded):
    """:func:`mipnet.evaluation.subsets.box_outcomes` of the checkpoint ``weights`` on every
    validation box (the same inference as validation, before rescoring and OKS-NMS), for
    the occluded subset (annotation ids ``occluded`` of the ground truth ``gt``), the
    other people and all (:func:`mipnet.evaluation.crowd.crowd_error_groups`)."""
    device = eval_device(cfg)
    model, dataset, loader = final_model_and_data(cfg, weights, device)
    predictor = predictor_from_cfg(cfg, model, dataset.meta.flip_index)
    pred = run_inference(predictor, loader, device, progress=False)
    ann_ids = [dataset.db[i]['ann_id'] for i in pred['index']]
    return crowd_error_groups(gt, ann_ids, pred['keypoints'], dataset.meta, occluded,
                              FOUND_OKS)


def crowd_box_metrics(cfg, weights, out_dir, gt, occluded_ids):
    """Metrics of the checkpoint ``weights`` on crowd-merged boxes
    (:func:`mipnet.evaluation.subsets.crowd_merged_boxes`: of two people whose boxes
    overlap with IoU >= 0.5 only the more visible one keeps a box, as after a detector's box
    NMS), through the same validation as the ground-truth boxes; per instance mode the
    metrics of all people and of the occluded subset (annotation ids ``occluded_ids`` of the
    ground truth ``gt``); files under ``out_dir``/crowd_boxes
    (:func:`mipnet.engine.crowd_report.crowd_merged_evaluation`)."""
    device = eval_device(cfg)
    model = build_model(cfg)
    load_weights(model, cfg, weights)
    model.to(device).eval()
    return crowd_merged_evaluation(cfg, model, device, gt, os.path.join(out_dir, 'crowd_boxes'),
                                   occluded_ids, progress=False)


def validate_weights(cfg, weights, out_dir, gt, occluded_ids):
    """The checkpoint ``weights`` through validation (rescoring, OKS-NMS, COCOeval; result
    files under ``out_dir``) on the boxes ``cfg`` selects; returns (metrics, metrics of the
    occluded subset ``occluded_ids`` of the ground truth ``gt``), both per instance mode."""
    device = eval_device(cfg)
    model, _, loader = final_model_and_data(cfg, weights, device)
    metrics = validate(cfg, model, loader, device, out_dir, progress=False)
    return metrics, occluded_metrics(gt, out_dir, cfg, metrics, occluded_ids)


def evaluate_weights(spec, opts, weights, test_set, out_dir):
    """Evaluate the checkpoint ``weights`` of the model ``spec`` (a
    :class:`mipnet.analysis.settings.ModelSpec` or ``Variant``, its config with ``opts``) on
    the split
    ``test_set``, as :func:`mipnet.analysis.compare.train_and_evaluate` evaluates its final
    weights:
    ground-truth boxes through validation (rescoring, OKS-NMS, COCOeval) with the occluded
    subset, the per-box outcomes with the crowd-error rate, and the crowd-merged boxes.
    Files go to ``out_dir``. Returns the run dict the report tables read."""
    if not os.path.isfile(weights):
        raise SystemExit(f'{spec.label}: checkpoint {weights} not found (train the pair first, '
                         'e.g. python benchmarks/compare_baseline.py, or pass --hrnet / '
                         '--mipnet)')
    cfg = load_config(spec.cfg_path, list(opts) + ['DATASET.TEST_SET', test_set])
    ann_file = annotation_file(cfg)
    gt = load_coco(ann_file)
    occluded_ids = occluded_ann_ids(gt)
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    metrics, occluded = validate_weights(cfg, weights, out_dir, gt, occluded_ids)
    run = dict(label=spec.label, name=spec.name, model=cfg.MODEL.NAME,
               config=spec.cfg_file, weights=weights,
               test_set=test_set, output_dir=out_dir, metrics=metrics, occluded=occluded,
               per_box=per_box_outcomes(cfg, weights, gt, occluded_ids),
               crowd_boxes=crowd_box_metrics(cfg, weights, out_dir, gt, occluded_ids),
               results=results_files(out_dir, cfg, metrics),
               annotation_file=ann_file)
    run['seconds'] = time.perf_counter() - start
    log(f'{spec.label} on {test_set}: AP {metrics["merged"]["AP"]:.3f}, crowd-error rate '
        f'(occluded) {run["per_box"]["occluded"]["crowd_error_rate"]:.3f}, '
        f'{run["seconds"] / 60:.1f} min')
    return run


def evaluate_runs(runs, opts, out_dir, splits):
    """:func:`evaluate_weights` of the checkpoints of ``runs`` ([(variant, weights)], a
    :class:`mipnet.analysis.settings.Variant` each, the baseline first) on every split, each
    with the shared ``opts`` and its variant's keys; returns {split: [run dict, ...]} in the
    order of ``runs``. An evaluation of the same file (SHA-256) with the same overrides
    that a previous comparison wrote (``evaluation.json`` in its folder) is reused."""
    evaluations = {}
    for split in splits:
        evaluations[split] = []
        for variant, weights in runs:
            folder = os.path.join(out_dir, 'eval', split, variant.key)
            run_opts = list(opts) + list(variant.opts)
            stamp = dict(weights=weights, sha256=file_sha256(weights)
                         if os.path.isfile(weights) else None, overrides=run_opts)
            cache = os.path.join(folder, 'evaluation.json')
            run = _cached_evaluation(cache, stamp)
            if run is None:
                run = evaluate_weights(variant, run_opts, weights, split, folder)
                write_json_atomic(cache, dict(stamp=stamp, run=run), indent=1, default=float)
            else:
                log(f'{variant.label} on {split}: reusing the evaluation in {cache}')
            evaluations[split].append(run)
    return evaluations


def _cached_evaluation(path, stamp):
    """The run dict of ``path`` when it was made with ``stamp``, else None."""
    try:
        with open(path) as f:
            cached = json.load(f)
        return cached['run'] if cached.get('stamp') == stamp and stamp['sha256'] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


