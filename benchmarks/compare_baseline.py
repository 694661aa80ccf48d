"""MIPNet vs its HRNet baseline on the synthetic crowded-people dataset, on CPU.

The script

1. generates (or reuses) a synthetic dataset: a training split drawn from the default
   generator and a held-out validation split drawn with more people, more overlap and
   heavier occlusion (``VAL_SYNTHETIC``), so that many validation people are strongly
   occluded;
2. trains ``pose_hrnet`` (experiments/synthetic/small_hrnet.yaml) and
   ``pose_hrnet_se_lambda`` (small_mipnet.yaml) with the same HRNet widths, input size,
   schedule, data order and seed (the same ``KEY VALUE`` overrides on both files), at the
   same time in two processes of one torch thread each (``--no-parallel``: one after the
   other, in process);
3. evaluates both after every ``--eval-freq`` epochs with ground-truth boxes through the
   training loop's own validation (rescoring, OKS-NMS, COCOeval), and additionally on the
   occluded subset (people whose box has IoU >= 0.5 with another person's box,
   :mod:`mipnet.evaluation.subsets`) from the result files that validation writes;
4. looks at every validation box's poses from the final weights before rescoring and
   OKS-NMS (:func:`mipnet.evaluation.subsets.box_outcomes`: the box's own person, another
   person instead, people reached by any pose);
5. evaluates the final weights once more on crowd-merged boxes, where two strongly
   overlapping people share one box as after a detector's box NMS
   (:func:`mipnet.evaluation.subsets.crowd_merged_boxes`);
6. writes ``summary.json``, ``results.md`` (tables), ``compare_ap_vs_epoch.png`` and
   ``compare_predictions.png`` (the same crowded validation images, ground truth /
   HRNet / MIPNet side by side) into ``--out``; with ``--docs`` the figures also go to
   ``docs/images/``.

Usage::

    python benchmarks/compare_baseline.py --docs   # full budget: 14 epochs, see results.md
    python benchmarks/compare_baseline.py --quick  # smoke test, a few minutes
    python benchmarks/compare_baseline.py --eval-only [--hrnet CKPT --mipnet CKPT]
    python benchmarks/compare_baseline.py --recipe finetune [--base HRNET_CKPT]
    python benchmarks/compare_baseline.py --preset gpu   # one H100-class GPU, ~8 min budget

``--eval-only`` trains nothing: it evaluates two checkpoints (default: the preset's
from-scratch run) on the regular validation split and on the OCHuman-like split
``val_ochuman`` (:data:`mipnet.data.synthetic.OCHUMAN_LIKE`, every person's box at IoU >= 0.5
with another's), with ground-truth and crowd-merged boxes, adding the crowd-error rate
(:func:`mipnet.evaluation.subsets.crowd_error_rate`). ``--recipe finetune`` runs the
reference schedule in proportion through ``tools/train.py`` subprocesses (HRNet first, then
MIPNet fine-tuned from its weights via ``--init_checkpoint`` against HRNet continued for the
same epochs; :func:`finetune_recipe`) and then that evaluation. ``--preset gpu``: HRNet-W32
at 256x192 with mixed precision and the fine-tuning recipe on one GPU.

Measured numbers, machine and the analysis of the result: docs/results.md.

Every size can be overridden (``--num-train``, ``--num-val``, ``--epochs``, ...); the
presets are ``PRESETS``. Extra ``KEY VALUE`` config overrides for both models follow
``--opts``.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import time
from unittest import mock

import cv2
import numpy as np
import torch

from mipnet.config import load_config
from mipnet.data.synthetic import (OCHUMAN_LIKE, SyntheticConfig, crowd_statistics,
                                   crowd_statistics_table, generate_split,
                                   overlap_pair_fraction, statistics_rows)
from mipnet.evaluation.metrics import load_coco
from mipnet.evaluation.subsets import (OCCLUDED_IOU, best_oks_per_person, box_outcomes,
                                       crowd_error_rate, crowd_merged_boxes,
                                       occluded_ann_ids, subset_keypoint_eval)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = (('HRNet (pose_hrnet)', 'experiments/synthetic/small_hrnet.yaml'),
          ('MIPNet (pose_hrnet_se_lambda)', 'experiments/synthetic/small_mipnet.yaml'))

PRESETS = {
    'full': dict(num_train=3000, num_val=400, epochs=14, eval_freq=2,
                 data='data/synthetic_compare', out='output/compare'),
    'quick': dict(num_train=600, num_val=100, epochs=3, eval_freq=1,
                  data='data/synthetic_compare_quick', out='output/compare_quick'),
    # One H100-class GPU, about 8 minutes (a budget, not yet measured on a GPU:
    # docs/results.md, "Next measurements"): HRNet-W32 at 256x192 with mixed precision, the
    # reference schedule in proportion (HRNet 10 epochs, then MIPNet fine-tuned and HRNet
    # continued 5 epochs side by side on the GPU), the data generated with every CPU core.
    'gpu': dict(num_train=5000, num_val=500, num_val_ochuman=500, epochs=10, eval_freq=5,
                data='data/synthetic_compare_gpu', out='output/compare_gpu', width=32,
                input_size=(192, 256), device='cuda', amp=True, recipe='finetune',
                lr=1e-3, batch_size=64, workers=6, threads=2,
                gen_workers=os.cpu_count() or 1),
}
OCHUMAN_SPLIT = 'val_ochuman'  # the OCHuman-like validation split (mipnet.data.synthetic)
# The reference schedules: HRNet 210 epochs with LR drops at 170 and 200; MIPNet fine-tuned
# from it for 110 epochs with drops at 70 and 100.
REFERENCE_HRNET_STEPS = (170 / 210, 200 / 210)
REFERENCE_FINETUNE_FRACTION = 110 / 210
REFERENCE_FINETUNE_STEPS = (70 / 110, 100 / 110)
IMAGE_SIZE = (256, 192)  # generated images (width, height)
# Schedule of both models. The small configs' LR 0.002 (and weight decay 1e-4) keep the
# short CPU runs in a noisy plateau and let Adam's L2 decay erase MIPNet's small lambda-path
# weights before they learn anything (docs/results.md, "Analysis", section 1).
LR = 0.0005
WD = 0.0
INPUT_SIZE = (64, 96)  # network input (width, height); heatmaps are a quarter of it
# HRNet width of both models (branch channels W, 2W, 4W, 8W), as in the small configs. W32,
# the paper's smallest HRNet, costs about 1.3x the time per step at this input size, so
# 12 epochs of it took 48.8 min, over the 45-minute budget, and did not change the outcome
# (docs/results.md, "Analysis"): ``--width 32 --epochs 12 --eval-freq 3``.
WIDTH = 16
# Defaults of the options a preset may set (the CPU comparison's).
DEFAULTS = dict(num_val_ochuman=400, width=WIDTH, input_size=INPUT_SIZE, device='cpu',
                amp=False, recipe='scratch', lr=LR, wd=WD, batch_size=0, workers=0, threads=1,
                gen_workers=2)
# Training data: the default generator. The held-out validation split is more crowded:
# fewer single-person images, more people placed onto others, closer behind them and allowed
# to be more hidden. (Training on the crowded settings too was measured to slow both models
# down, MIPNet more: docs/results.md, "Analysis".)
TRAIN_SYNTHETIC = SyntheticConfig()
VAL_SYNTHETIC = SyntheticConfig(people_probs=(0.1, 0.3, 0.3, 0.3), overlap_prob=0.8,
                                overlap_shift=(0.0, 0.3), min_visible_fraction=0.2,
                                min_visible_joints=5)
DRAW_SCORE_THRE = 0.2  # poses drawn in the prediction figure
FOUND_OKS = 0.5  # a person counts as found when some kept pose reaches this OKS
NUM_FIGURE_IMAGES = 4


def log(msg):
    print(f'[compare {time.strftime("%H:%M:%S")}] {msg}', flush=True)


# ------------------------------------------------------------------------------- data
def prepare_data(data_dir, num_train, num_val, seed, workers, regenerate=False):
    """Generate the dataset unless ``data_dir`` already holds one made with the same
    parameters; returns (stats dict, seconds spent generating)."""
    stamp_path = os.path.join(data_dir, 'compare_dataset.json')
    params = dict(num_train=num_train, num_val=num_val, seed=seed, image_size=IMAGE_SIZE,
                  train_config=repr(TRAIN_SYNTHETIC), val_config=repr(VAL_SYNTHETIC))
    if not regenerate and os.path.isfile(stamp_path):
        with open(stamp_path) as f:
            stamp = json.load(f)
        if stamp.get('params') == json.loads(json.dumps(params)):
            log(f'reusing the dataset in {data_dir}')
            return stamp['stats'], 0.0
    if os.path.isdir(data_dir):
        shutil.rmtree(data_dir)
    log(f'generating {num_train} training and {num_val} validation images in {data_dir}')
    start = time.perf_counter()
    stats = {}
    for split, n, config in (('train', num_train, TRAIN_SYNTHETIC),
                             ('val', num_val, VAL_SYNTHETIC)):
        path = generate_split(data_dir, split, n, seed, IMAGE_SIZE, workers, config)
        with open(path) as f:
            data = json.load(f)
        occluded = occluded_ann_ids(data, OCCLUDED_IOU)
        stats[split] = dict(images=len(data['images']), people=len(data['annotations']),
                            occluded_people=len(occluded),
                            overlap_pair_fraction=overlap_pair_fraction(data))
        log(f'{split}: {stats[split]}')
    seconds = time.perf_counter() - start
    with open(stamp_path, 'w') as f:
        json.dump({'params': params, 'stats': stats, 'seconds': seconds}, f, indent=1)
    return stats, seconds


def prepare_ochuman_split(data_dir, num_val, seed, workers, regenerate=False):
    """Generate (or reuse) the OCHuman-like validation split ``OCHUMAN_SPLIT`` of
    ``data_dir`` (:data:`mipnet.data.synthetic.OCHUMAN_LIKE`: every person's box at IoU >=
    0.5 with another's); returns its crowd statistics."""
    stamp_path = os.path.join(data_dir, f'compare_{OCHUMAN_SPLIT}.json')
    params = dict(num_val=num_val, seed=seed, image_size=IMAGE_SIZE, config=repr(OCHUMAN_LIKE))
    if not regenerate and os.path.isfile(stamp_path):
        with open(stamp_path) as f:
            stamp = json.load(f)
        if stamp.get('params') == json.loads(json.dumps(params)):
            log(f'reusing the {OCHUMAN_SPLIT} split in {data_dir}')
            return stamp['stats']
    log(f'generating {num_val} OCHuman-like validation images ({OCHUMAN_SPLIT}) in {data_dir}')
    start = time.perf_counter()
    path = generate_split(data_dir, OCHUMAN_SPLIT, num_val, seed, IMAGE_SIZE, workers,
                          OCHUMAN_LIKE)
    with open(path) as f:
        stats = crowd_statistics(json.load(f))
    with open(stamp_path, 'w') as f:
        json.dump({'params': params, 'stats': stats,
                   'seconds': time.perf_counter() - start}, f, indent=1)
    return stats


# ---------------------------------------------------------------------------- training
def scaled_steps(epochs, fractions):
    """LR-drop epochs at ``fractions`` of a schedule of ``epochs`` (each >= 1, increasing
    where the schedule is long enough)."""
    steps = []
    for fraction in fractions:
        step = max(1, int(round(fraction * epochs)))
        if steps and step <= steps[-1]:
            step = steps[-1] + 1
        steps.append(step)
    return steps


def overrides(args, data_dir, out_dir, epochs=None, lr_steps=None):
    """The KEY VALUE overrides shared by both models (``epochs``: ``args.epochs``;
    ``lr_steps``: one LR drop at 80 % of the epochs)."""
    w, h = args.input_size
    epochs = args.epochs if epochs is None else epochs
    if lr_steps is None:
        lr_steps = [max(1, int(round(0.8 * epochs)))]
    opts = ['DATASET.ROOT', data_dir, 'OUTPUT_DIR', out_dir,
            'LOG_DIR', os.path.join(out_dir, 'log'),
            'WORKERS', str(args.workers), 'SEED', str(args.seed),
            'EPOCH_EVAL_FREQ', str(args.eval_freq), 'PRINT_FREQ', '20',
            'MODEL.IMAGE_SIZE', f'[{w},{h}]', 'MODEL.HEATMAP_SIZE', f'[{w // 4},{h // 4}]',
            'TRAIN.END_EPOCH', str(epochs),
            'TRAIN.LR_STEP', '[' + ','.join(str(e) for e in lr_steps) + ']',
            'TRAIN.LR', str(args.lr), 'TRAIN.WD', str(args.wd),
            'TEST.BATCH_SIZE_PER_GPU', '64', 'DEVICE', args.device]
    if args.amp:
        opts += ['TRAIN.AMP', 'true']
    if args.batch_size:
        opts += ['TRAIN.BATCH_SIZE_PER_GPU', str(args.batch_size)]
    for stage in (2, 3, 4):  # branch widths W, 2W, 4W, 8W
        opts += [f'MODEL.EXTRA.STAGE{stage}.NUM_CHANNELS',
                 '[' + ','.join(str(args.width * 2 ** b) for b in range(stage)) + ']']
    return opts + list(args.opts)


def results_file(output_dir, cfg, mode):
    return os.path.join(output_dir, 'results',
                        f'keypoints_{cfg.DATASET.TEST_SET}_results_{mode.replace(" ", "")}.json')


def train_and_evaluate(label, cfg_file, opts, threads=1):
    """Train one model with :func:`mipnet.engine.train.train` using ``threads`` torch
    threads; after every validation the occluded-subset metrics of its result files are
    recorded too."""
    import mipnet.engine.train as train_module

    torch.set_num_threads(threads)
    cv2.setNumThreads(1)

    cfg = load_config(os.path.join(ROOT, cfg_file), opts)
    ann_file = os.path.join(cfg.DATASET.ROOT, 'annotations',
                            f'person_keypoints_{cfg.DATASET.TEST_SET}.json')
    # Read once for every subset evaluation below: none of them modifies it.
    gt = load_coco(ann_file)
    occluded_ids = occluded_ann_ids(gt)
    per_eval = []
    original = train_module.validate

    def validate_and_record(cfg_, model, loader, device, output_dir=None, progress=True):
        metrics = original(cfg_, model, loader, device, output_dir, progress)
        if metrics is not None and output_dir:
            occluded = subset_keypoint_eval(gt, results_file(output_dir, cfg_, 'merged'),
                                            loader.dataset.meta, ann_ids=occluded_ids)
            per_eval.append({'metrics': metrics, 'occluded': occluded})
            log(f'{label}: AP {metrics["merged"]["AP"]:.3f}  AR {metrics["merged"]["AR"]:.3f}'
                f'  occluded AP {occluded["AP"]:.3f} AR {occluded["AR"]:.3f}')
        return metrics

    log(f'training {label} ({cfg.MODEL.NAME}), {cfg.TRAIN.END_EPOCH} epochs')
    start = time.perf_counter()
    with mock.patch.object(train_module, 'validate', validate_and_record):
        summary = train_module.train(cfg, os.path.join(ROOT, cfg_file))
    seconds = time.perf_counter() - start
    out_dir = summary['output_dir']
    history = [dict(h, AR=e['metrics']['merged']['AR'], occluded_AP=e['occluded']['AP'],
                    occluded_AR=e['occluded']['AR'])
               for h, e in zip(summary['history'], per_eval)]
    final = summary['metrics']
    occluded = {mode: subset_keypoint_eval(gt, results_file(out_dir, cfg, mode),
                                           cfg.DATASET.TEST_DATASET, ann_ids=occluded_ids)
                for mode in final}
    log(f'{label}: done in {seconds / 60:.1f} min')
    weights = os.path.join(out_dir, 'final_state.pth')
    return dict(label=label, model=cfg.MODEL.NAME, config=cfg_file, output_dir=out_dir,
                seconds=seconds, per_box=per_box_outcomes(cfg, weights, gt, occluded_ids),
                crowd_boxes=crowd_box_metrics(cfg, weights, out_dir, gt, occluded_ids),
                epoch_losses=summary['epoch_losses'],
                steady_samples_per_s=summary.get('steady_samples_per_s'),
                history=history, metrics=final, occluded=occluded,
                results={mode: results_file(out_dir, cfg, mode) for mode in final},
                annotation_file=ann_file)


def final_model_and_data(cfg, weights, device):
    """The checkpoint ``weights`` (a run's ``final_state.pth``) in a model built from
    ``cfg``, with the evaluation dataset and loader ``cfg`` describes."""
    from mipnet.data import build_dataset
    from mipnet.engine.train import build_loader
    from mipnet.models import build_model
    from mipnet.utils.checkpoint import load_model_weights

    model = build_model(cfg)
    load_model_weights(model, weights)
    dataset = build_dataset(cfg, is_train=False)
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
    the occluded subset (annotation ids ``occluded`` of the ground truth ``gt``) and the
    other people."""
    from mipnet.engine.evaluate import predictor_from_cfg, run_inference

    device = eval_device(cfg)
    model, dataset, loader = final_model_and_data(cfg, weights, device)
    predictor = predictor_from_cfg(cfg, model, dataset.meta.flip_index)
    pred = run_inference(predictor, loader, device, progress=False)
    ann_ids = [dataset.db[i]['ann_id'] for i in pred['index']]
    outcomes = {group: box_outcomes(gt, ann_ids, pred['keypoints'], dataset.meta,
                                    FOUND_OKS, subset=ids)
                for group, ids in (('occluded', occluded),
                                   ('others', set(ann_ids) - occluded))}
    for counts in outcomes.values():
        counts['crowd_error_rate'] = crowd_error_rate(counts)
    return outcomes


def crowd_box_metrics(cfg, weights, out_dir, gt, occluded_ids):
    """Metrics of the checkpoint ``weights`` on crowd-merged boxes
    (:func:`mipnet.evaluation.subsets.crowd_merged_boxes`: of two people whose boxes
    overlap with IoU >= 0.5 only the more visible one keeps a box, as after a detector's box
    NMS), through the same validation as the ground-truth boxes; per instance mode the
    metrics of all people and of the occluded subset (annotation ids ``occluded_ids`` of the
    ground truth ``gt``); files under ``out_dir``/crowd_boxes."""
    folder = os.path.join(out_dir, 'crowd_boxes')
    os.makedirs(folder, exist_ok=True)
    boxes = crowd_merged_boxes(gt)
    box_file = os.path.join(folder, 'crowd_merged_boxes.json')
    with open(box_file, 'w') as f:
        json.dump(boxes, f)
    cfg = cfg.clone()
    cfg.defrost()
    cfg.TEST.USE_GT_BBOX = False
    cfg.TEST.COCO_BBOX_FILE = box_file
    cfg.TEST.IMAGE_THRE = 0.0
    cfg.freeze()
    metrics, occluded = validate_weights(cfg, weights, folder, gt, occluded_ids)
    return dict(boxes=len(boxes), metrics=metrics, occluded=occluded)


def validate_weights(cfg, weights, out_dir, gt, occluded_ids):
    """The checkpoint ``weights`` through validation (rescoring, OKS-NMS, COCOeval; result
    files under ``out_dir``) on the boxes ``cfg`` selects; returns (metrics, metrics of the
    occluded subset ``occluded_ids`` of the ground truth ``gt``), both per instance mode."""
    from mipnet.engine.evaluate import validate

    device = eval_device(cfg)
    model, _, loader = final_model_and_data(cfg, weights, device)
    metrics = validate(cfg, model, loader, device, out_dir, progress=False)
    occluded = {mode: subset_keypoint_eval(gt, results_file(out_dir, cfg, mode),
                                           cfg.DATASET.TEST_DATASET, ann_ids=occluded_ids)
                for mode in metrics}
    return metrics, occluded


# ------------------------------------------------------------- evaluation of checkpoints
def evaluate_weights(label, cfg_file, opts, weights, test_set, out_dir):
    """Evaluate the checkpoint ``weights`` of the model of ``cfg_file`` (with ``opts``) on
    the split ``test_set``, as :func:`train_and_evaluate` evaluates its final weights:
    ground-truth boxes through validation (rescoring, OKS-NMS, COCOeval) with the occluded
    subset, the per-box outcomes with the crowd-error rate, and the crowd-merged boxes.
    Files go to ``out_dir``. Returns the run dict the report tables read."""
    if not os.path.isfile(weights):
        raise SystemExit(f'{label}: checkpoint {weights} not found (train the pair first, '
                         'e.g. python benchmarks/compare_baseline.py, or pass --hrnet / '
                         '--mipnet)')
    cfg = load_config(os.path.join(ROOT, cfg_file),
                      list(opts) + ['DATASET.TEST_SET', test_set])
    ann_file = os.path.join(cfg.DATASET.ROOT, 'annotations', f'person_keypoints_{test_set}.json')
    gt = load_coco(ann_file)
    occluded_ids = occluded_ann_ids(gt)
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    metrics, occluded = validate_weights(cfg, weights, out_dir, gt, occluded_ids)
    run = dict(label=label, model=cfg.MODEL.NAME, config=cfg_file, weights=weights,
               test_set=test_set, output_dir=out_dir, metrics=metrics, occluded=occluded,
               per_box=per_box_outcomes(cfg, weights, gt, occluded_ids),
               crowd_boxes=crowd_box_metrics(cfg, weights, out_dir, gt, occluded_ids),
               results={mode: results_file(out_dir, cfg, mode) for mode in metrics},
               annotation_file=ann_file)
    run['seconds'] = time.perf_counter() - start
    log(f'{label} on {test_set}: AP {metrics["merged"]["AP"]:.3f}, crowd-error rate '
        f'(occluded) {run["per_box"]["occluded"]["crowd_error_rate"]:.3f}, '
        f'{run["seconds"] / 60:.1f} min')
    return run


def evaluate_pair(weights, opts, out_dir, splits):
    """:func:`evaluate_weights` of the HRNet and MIPNet checkpoints ``weights`` (two paths,
    in ``MODELS`` order) on every split; returns {split: [HRNet run, MIPNet run]}."""
    return {split: [evaluate_weights(label, cfg_file, opts, w, split,
                                     os.path.join(out_dir, 'eval', split,
                                                  label.split()[0].lower()))
                    for (label, cfg_file), w in zip(MODELS, weights)]
            for split in splits}


# ---------------------------------------------------------------- reference fine-tuning
def train_subprocess(cfg_file, opts, log_path, threads, init_checkpoint=None):
    """Start ``tools/train.py --cfg cfg_file [--init_checkpoint C] opts`` with ``threads``
    OpenMP / MKL threads, its output into ``log_path``; returns the Popen."""
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'train.py'),
           '--cfg', os.path.join(ROOT, cfg_file)]
    if init_checkpoint:
        cmd += ['--init_checkpoint', init_checkpoint]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log(f'$ {" ".join(cmd + list(opts))}  > {log_path}')
    with open(log_path, 'w') as out:
        return subprocess.Popen(cmd + list(opts), stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT)


def wait_all(procs):
    """Wait for ``[(name, Popen, log_path)]``; exit naming the log of any failed run."""
    failed = [(name, path) for name, proc, path in procs if proc.wait() != 0]
    if failed:
        raise SystemExit('training failed: ' + ', '.join(f'{name} (log: {path})'
                                                         for name, path in failed))


def final_weights(out_dir, cfg_file, opts):
    """``final_state.pth`` of a tools/train.py run of ``cfg_file`` with ``opts``."""
    from mipnet.config import run_output_dir
    cfg = load_config(os.path.join(ROOT, cfg_file), opts)
    return os.path.join(run_output_dir(cfg, os.path.join(ROOT, cfg_file), out_dir),
                        'final_state.pth')


def finetune_recipe(args, data_dir, out_dir):
    """The reference schedule in proportion, through tools/train.py subprocesses:

    1. HRNet trained ``args.epochs`` epochs, LR drops at the reference HRNet's 170/210 and
       200/210 of them (skipped with ``args.base``, an HRNet checkpoint to start from);
    2. from its final weights (``--init_checkpoint``, the project's initialisation path:
       λ blocks fresh, a new optimizer), MIPNet fine-tuned and HRNet continued with the same
       ``finetune_epochs`` (default 110/210 of ``args.epochs``), LR drops at 70/110 and
       100/110 of them, same seed and data; the two side by side with ``args.parallel``.

    Returns (dict of the stages' overrides, seconds and checkpoints, [HRNet, MIPNet] final
    weights of stage 2)."""
    info = {}
    hrnet_cfg, mipnet_cfg = (cfg_file for _, cfg_file in MODELS)
    if args.base:
        base = os.path.abspath(args.base)
        info['base'] = dict(checkpoint=base, trained=False)
    else:
        base_dir = os.path.join(out_dir, 'base')
        opts = overrides(args, data_dir, base_dir,
                         lr_steps=scaled_steps(args.epochs, REFERENCE_HRNET_STEPS))
        start = time.perf_counter()
        log(f'stage 1: HRNet, {args.epochs} epochs')
        wait_all([('HRNet base', train_subprocess(hrnet_cfg, opts,
                                                  os.path.join(base_dir, 'train.log'),
                                                  args.threads),
                   os.path.join(base_dir, 'train.log'))])
        base = final_weights(base_dir, hrnet_cfg, opts)
        info['base'] = dict(checkpoint=base, trained=True, overrides=opts,
                            seconds=time.perf_counter() - start)
    epochs = args.finetune_epochs or max(1, int(round(args.epochs * REFERENCE_FINETUNE_FRACTION)))
    ft_dir = os.path.join(out_dir, 'finetune')
    opts = overrides(args, data_dir, ft_dir, epochs=epochs,
                     lr_steps=scaled_steps(epochs, REFERENCE_FINETUNE_STEPS))
    log(f'stage 2: MIPNet fine-tuned and HRNet continued from {base}, {epochs} epochs')
    start = time.perf_counter()
    procs = []
    for label, cfg_file in MODELS:
        name = label.split()[0]
        path = os.path.join(ft_dir, f'train_{name.lower()}.log')
        procs.append((name, train_subprocess(cfg_file, opts, path, args.threads, base), path))
        if not args.parallel:
            wait_all(procs[-1:])
    wait_all(procs)
    info['finetune'] = dict(epochs=epochs, overrides=opts, init_checkpoint=base,
                            seconds=time.perf_counter() - start)
    return info, [final_weights(ft_dir, cfg_file, opts) for _, cfg_file in MODELS]


# ----------------------------------------------------------------------------- report
def _f(v):
    return f'{v:.3f}' if v >= 0 else 'n/a'


def mode_name(mode):
    """Row name of an instance mode: 'merged' or 'instance k'."""
    return 'merged (λ = e0 and e1)' if mode == 'merged' else f'λ = e{mode.split()[-1]} only'


def tables(runs, num_occluded):
    """Markdown: the main table and the per-instance table of MIPNet."""
    lines = [f'| Model | AP | AP .5 | AP .75 | AR | AP occluded | AR occluded |',
             '|---|---|---|---|---|---|---|']
    for run in runs:
        m, o = run['metrics']['merged'], run['occluded']['merged']
        lines.append(f'| {run["label"]} | {_f(m["AP"])} | {_f(m["AP .5"])} | '
                     f'{_f(m["AP .75"])} | {_f(m["AR"])} | {_f(o["AP"])} | {_f(o["AR"])} |')
    lines += ['', f'Occluded subset: {num_occluded} validation people whose box has IoU >= '
              f'{OCCLUDED_IOU} with another person\'s box.', '']
    for run in runs:
        if len(run['metrics']) < 2:
            continue
        lines += [f'{run["label"]}, per instance (before merging, each instance alone '
                  'through the same rescoring and OKS-NMS):', '',
                  '| Instances | AP | AP .5 | AP .75 | AR | AP occluded | AR occluded |',
                  '|---|---|---|---|---|---|---|']
        for mode, m in run['metrics'].items():
            o = run['occluded'][mode]
            lines.append(f'| {mode_name(mode)} | {_f(m["AP"])} | {_f(m["AP .5"])} | '
                         f'{_f(m["AP .75"])} | {_f(m["AR"])} | {_f(o["AP"])} | {_f(o["AR"])} |')
    return '\n'.join(lines)


def crowd_box_table(runs):
    """Markdown: both models (and MIPNet's instances) on crowd-merged boxes."""
    num_people = runs[0]['occluded']['merged']['num_gt']
    lines = [f'Crowd-merged boxes: {runs[0]["crowd_boxes"]["boxes"]} boxes (of two people '
             f'whose boxes overlap with IoU >= {OCCLUDED_IOU}, only the more visible one keeps '
             f'its box); occluded subset as above ({num_people} people).', '',
             '| Model | AP | AP .5 | AR | AP occluded | AR occluded | AR .5 occluded |',
             '|---|---|---|---|---|---|---|']
    for run in runs:
        name = run['label'].split()[0]
        for mode, m in run['crowd_boxes']['metrics'].items():
            o = run['crowd_boxes']['occluded'][mode]
            label = run['label'] if mode == 'merged' else f'{name} {mode_name(mode)}'
            lines.append(f'| {label} | {_f(m["AP"])} | {_f(m["AP .5"])} | {_f(m["AR"])} | '
                         f'{_f(o["AP"])} | {_f(o["AR"])} | {_f(o["AR .5"])} |')
    return '\n'.join(lines)


def people_found(runs, oks_thre=FOUND_OKS):
    """Markdown table and counts: how many validation people (occluded subset / others)
    each model finds, i.e. has a kept pose with OKS >= ``oks_thre``
    (:func:`mipnet.evaluation.subsets.best_oks_per_person`, 20 poses per image as in AR),
    and how many one model finds that the other misses."""
    baseline, mipnet = runs
    ann_file = baseline['annotation_file']
    occluded = occluded_ann_ids(ann_file)

    def found(results):
        best = best_oks_per_person(ann_file, results)
        return {i for i, v in best.items() if v >= oks_thre}, set(best)

    base, people = found(baseline['results']['merged'])
    rows = [(baseline['label'], base)]
    for mode in ('instance 0', 'merged'):
        if mode in mipnet['results']:
            rows.append((f'{mipnet["label"].split()[0]} {mode_name(mode)}',
                         found(mipnet['results'][mode])[0]))
    merged = rows[-1][1]
    groups = (('occluded', people & occluded), ('others', people - occluded))
    lines = [f'| People found (a pose with OKS >= {oks_thre}) | '
             + ' | '.join(f'{g} ({len(ids)})' for g, ids in groups) + ' |',
             '|---|' + '---|' * len(groups)]
    for name, ids in rows:
        lines.append(f'| {name} | ' + ' | '.join(str(len(ids & g)) for _, g in groups) + ' |')
    lines.append(f'| found by {rows[-1][0]}, missed by {baseline["label"].split()[0]} | '
                 + ' | '.join(str(len((merged - base) & g)) for _, g in groups) + ' |')
    lines.append(f'| found by {baseline["label"].split()[0]}, missed by {rows[-1][0]} | '
                 + ' | '.join(str(len((base - merged) & g)) for _, g in groups) + ' |')
    counts = {name: {g: len(ids & members) for g, members in groups} for name, ids in rows}
    return '\n'.join(lines), counts


def per_box_table(runs, oks_thre=FOUND_OKS):
    """Markdown: what the boxes' poses show before rescoring and OKS-NMS (OKS >=
    ``oks_thre``): the first instance's pose is the box's own person, or another person
    instead (the crowd error), and how many people any pose of any instance reaches."""
    groups = ('occluded', 'others')
    sizes = [runs[0]['per_box'][g]['people'] for g in groups]
    lines = [f'| Per box, before rescoring and OKS-NMS (OKS >= {oks_thre}) | '
             + ' | '.join(f'{g} ({n})' for g, n in zip(groups, sizes)) + ' |',
             '|---|' + '---|' * len(groups)]
    for run in runs:
        name = run['label'].split()[0]
        first = ' λ = e0' if len(run['metrics']) > 1 else ''
        rows = ((f'{name}{first}: the box\'s pose is its own person', 'own'),
                (f'{name}{first}: the box\'s pose is another person instead', 'other'),
                (f'{name}: people shown by some pose of their image', 'found'))
        for text, key in rows:
            lines.append(f'| {text} | '
                         + ' | '.join(str(run['per_box'][g][key]) for g in groups) + ' |')
    return '\n'.join(lines)


def crowd_error_table(runs):
    """Markdown: the crowd-error rate of each model's first instance (the share of the
    people whose own box's pose is another person, :func:`crowd_error_rate`) with ground-
    truth boxes, for the occluded subset, the others and everybody."""
    lines = ['| Crowd-error rate (own box shows another person, OKS >= '
             f'{FOUND_OKS}) | occluded | others | all |', '|---|---|---|---|']
    for run in runs:
        groups = [run['per_box'][g] for g in ('occluded', 'others')]
        total = crowd_error_rate({k: sum(g[k] for g in groups) for k in ('people', 'other')})
        cells = [g['crowd_error_rate'] for g in groups] + [total]
        lines.append(f'| {run["label"]} | '
                     + ' | '.join('n/a' if np.isnan(c) else f'{c:.1%}' for c in cells) + ' |')
    return '\n'.join(lines)


def eval_report(evaluations):
    """Markdown: per split, the tables of :func:`tables`, :func:`crowd_error_table`,
    :func:`people_found`, :func:`per_box_table` and :func:`crowd_box_table`."""
    parts = []
    for split, runs in evaluations.items():
        found_table, _ = people_found(runs)
        parts += [f'### Split `{split}`', '',
                  tables(runs, runs[0]['occluded']['merged']['num_gt']), '',
                  crowd_error_table(runs), '', found_table, '', per_box_table(runs), '',
                  crowd_box_table(runs), '']
    return '\n'.join(parts)


def plot_history(runs, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for run, color in zip(runs, ('tab:blue', 'tab:red')):
        epochs = [h['epoch'] + 1 for h in run['history']]
        name = run['label'].split()[0]
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


def draw_predictions(runs, path, num_images=NUM_FIGURE_IMAGES, zoom=2):
    """Ground truth | HRNet | MIPNet on the first ``num_images`` validation images (by id)
    that hold an occluded pair (IoU >= 0.5); chosen without looking at the predictions."""
    from mipnet.data.metadata import get_keypoint_meta
    from mipnet.vis import draw_pose, draw_poses, pose_color
    skeleton = get_keypoint_meta('coco').skeleton
    with open(runs[0]['annotation_file']) as f:
        gt = json.load(f)
    occluded = occluded_ann_ids(gt)
    image_ids = sorted({a['image_id'] for a in gt['annotations'] if a['id'] in occluded})
    image_ids = image_ids[:num_images]
    images = {im['id']: im for im in gt['images']}
    image_dir = os.path.join(os.path.dirname(os.path.dirname(runs[0]['annotation_file'])),
                             'images', 'val')
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
    width = rows[0].shape[1] // 3
    for i, title in enumerate(['ground truth', runs[0]['label'], runs[1]['label']]):
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


def machine():
    model = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            model = next(line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return dict(cpu=model, cores=os.cpu_count(), python=platform.python_version(),
                torch=torch.__version__, torch_threads=torch.get_num_threads(),
                system=platform.platform())


# ------------------------------------------------------------------------------- main
def run_context(argv, load_start):
    """(machine dict with the load averages at the start and now, the command line)."""
    info = dict(machine(), load_average_start=load_start, load_average_end=os.getloadavg())
    command = 'python benchmarks/compare_baseline.py ' + ' '.join(argv if argv is not None
                                                                  else sys.argv[1:])
    return info, command


def parse_args(argv=None):
    """Command-line arguments with the preset's values filled in where not given."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=sorted(PRESETS),
                        help='sizes and settings (default full; --quick: quick)')
    parser.add_argument('--quick', action='store_true', help='smoke-test preset')
    parser.add_argument('--data', help='dataset folder (preset default)')
    parser.add_argument('--out', help='output folder (preset default)')
    parser.add_argument('--num-train', type=int, help='training images')
    parser.add_argument('--num-val', type=int, help='validation images')
    parser.add_argument('--num-val-ochuman', type=int,
                        help=f'images of the OCHuman-like validation split {OCHUMAN_SPLIT} '
                             '(--eval-only and --recipe finetune; default 400)')
    parser.add_argument('--epochs', type=int,
                        help='epochs (--recipe finetune: of the HRNet trained first)')
    parser.add_argument('--finetune-epochs', type=int,
                        help='--recipe finetune: epochs of the fine-tuning (default 110/210 '
                             'of --epochs, as the reference)')
    parser.add_argument('--eval-freq', type=int, help='validate every N epochs')
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'),
                        help=f'network input (default {INPUT_SIZE})')
    parser.add_argument('--width', type=int,
                        help=f'HRNet width W of both models (default {WIDTH})')
    parser.add_argument('--lr', type=float,
                        help=f'Adam learning rate of both models (default {LR})')
    parser.add_argument('--wd', type=float, help=f'weight decay of both models (default {WD})')
    parser.add_argument('--batch-size', type=int,
                        help='training batch per device (default: the YAML\'s, 32)')
    parser.add_argument('--device', help='cpu, cuda, npu or auto (default cpu)')
    parser.add_argument('--amp', action=argparse.BooleanOptionalAction,
                        help='mixed precision (TRAIN.AMP; default off)')
    parser.add_argument('--recipe', choices=('scratch', 'finetune'),
                        help='scratch (default): both models trained from scratch side by '
                             'side; finetune: the reference schedule in proportion through '
                             'tools/train.py, HRNet first, then MIPNet fine-tuned from it '
                             'against HRNet continued, evaluated on both validation splits')
    parser.add_argument('--base', help='--recipe finetune: start from this HRNet checkpoint '
                                       'instead of training it')
    parser.add_argument('--eval-only', action='store_true',
                        help='train nothing: evaluate the --hrnet and --mipnet checkpoints on '
                             f'the val and {OCHUMAN_SPLIT} splits')
    parser.add_argument('--hrnet', help='--eval-only: HRNet checkpoint (default: the final '
                                        'weights of the preset\'s comparison run)')
    parser.add_argument('--mipnet', help='--eval-only: MIPNet checkpoint (default: the final '
                                         'weights of the preset\'s comparison run)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int,
                        help='torch threads (default 1: measured best on a shared 2-core '
                             'machine, see docs/results.md)')
    parser.add_argument('--parallel', action=argparse.BooleanOptionalAction, default=True,
                        help='train the two models at the same time in two processes '
                             '(default; --no-parallel: one after the other)')
    parser.add_argument('--workers', type=int,
                        help='DataLoader workers (default 0: measured best on 2 cores)')
    parser.add_argument('--gen-workers', type=int,
                        help='processes generating the dataset (default 2)')
    parser.add_argument('--regenerate', action='store_true', help='rebuild the dataset')
    parser.add_argument('--docs', action='store_true',
                        help='also copy the figures to docs/images/')
    parser.add_argument('--opts', nargs=argparse.REMAINDER, default=[],
                        help='KEY VALUE overrides for both models')
    args = parser.parse_args(argv)
    if args.eval_only and args.recipe is not None:
        parser.error('--eval-only trains nothing: it takes no --recipe')
    if args.quick and args.preset not in (None, 'quick'):
        parser.error(f'--quick and --preset {args.preset} contradict each other')
    args.preset = args.preset or ('quick' if args.quick else 'full')
    for key, value in {**DEFAULTS, **PRESETS[args.preset]}.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.input_size = tuple(args.input_size)
    if args.eval_only:
        args.recipe = 'scratch'  # the checkpoints of a from-scratch run by default
    if args.base and args.recipe != 'finetune':
        parser.error('--base belongs to --recipe finetune')
    if (args.hrnet or args.mipnet) and not args.eval_only:
        parser.error('--hrnet / --mipnet belong to --eval-only')
    return args


def default_weights(args, out_dir):
    """Final weights of the preset's from-scratch comparison run in ``out_dir``."""
    opts = overrides(args, os.path.join(ROOT, args.data), out_dir)
    return [final_weights(out_dir, cfg_file, opts) for _, cfg_file in MODELS]


def main(argv=None):
    args = parse_args(argv)
    data_dir = os.path.abspath(os.path.join(ROOT, args.data))
    out_dir = os.path.abspath(os.path.join(ROOT, args.out))
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    start = time.perf_counter()
    load_start = os.getloadavg()
    log(f'preset {args.preset}: {vars(args)}')
    if args.eval_only or args.recipe == 'finetune':
        return evaluate_main(args, argv, data_dir, out_dir, start, load_start)

    data_stats, gen_seconds = prepare_data(data_dir, args.num_train, args.num_val, args.seed,
                                           args.gen_workers, args.regenerate)
    opts = overrides(args, data_dir, out_dir)
    jobs = [(label, cfg_file, opts, args.threads) for label, cfg_file in MODELS]
    if args.parallel:
        # One process per model: the two trainings share nothing but the read-only data.
        with mp.get_context('spawn').Pool(len(jobs)) as pool:
            runs = pool.starmap(train_and_evaluate, jobs)
            # Let the workers exit on their own: with the context manager's terminate()
            # alone, every run ended with a 'leaked semaphore' warning at exit.
            pool.close()
            pool.join()
    else:
        runs = [train_and_evaluate(*job) for job in jobs]
    total = time.perf_counter() - start

    num_occluded = runs[0]['occluded']['merged']['num_gt']
    table = tables(runs, num_occluded)
    found_table, found_counts = people_found(runs)
    box_table = per_box_table(runs)
    crowd_table = crowd_box_table(runs)
    plot_path = os.path.join(out_dir, 'compare_ap_vs_epoch.png')
    fig_path = os.path.join(out_dir, 'compare_predictions.png')
    plot_history(runs, plot_path)
    figure_ids = draw_predictions(runs, fig_path)
    info, command = run_context(argv, load_start)
    summary = dict(command=command.strip(), args=vars(args), overrides=opts,
                   data=data_stats, data_seconds=gen_seconds, total_seconds=total,
                   machine=info, figure_image_ids=figure_ids, people_found=found_counts,
                   runs=[{k: v for k, v in r.items()} for r in runs])
    with open(os.path.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1, default=float)
    report = '\n'.join([
        f'Command: `{summary["command"]}`', '',
        f'Run time: {total / 60:.1f} min in total (data {gen_seconds / 60:.1f} min, '
        + ', '.join(f'{r["label"].split()[0]} {r["seconds"] / 60:.1f} min' for r in runs)
        + f'); machine: {info["cpu"]}, {info["cores"]} cores, torch {info["torch"]} '
          f'({info["torch_threads"]} threads); load average at start '
          f'{load_start[0]:.1f}, at end {info["load_average_end"][0]:.1f}.', '',
        table, '', found_table, '', box_table, '', crowd_error_table(runs), '',
        crowd_table, ''])
    with open(os.path.join(out_dir, 'results.md'), 'w') as f:
        f.write(report)
    if args.docs:
        docs = os.path.join(ROOT, 'docs', 'images')
        os.makedirs(docs, exist_ok=True)
        for p in (plot_path, fig_path):
            shutil.copy(p, os.path.join(docs, os.path.basename(p)))
    print(report)
    return 0


def evaluate_main(args, argv, data_dir, out_dir, start, load_start):
    """--eval-only and --recipe finetune: evaluate a trained HRNet / MIPNet pair on the
    regular and the OCHuman-like validation splits; write summary.json and results.md."""
    data_stats, gen_seconds = prepare_data(data_dir, args.num_train, args.num_val, args.seed,
                                           args.gen_workers, args.regenerate)
    data_stats[OCHUMAN_SPLIT] = prepare_ochuman_split(data_dir, args.num_val_ochuman,
                                                      args.seed, args.gen_workers,
                                                      args.regenerate)
    stages = {}
    if args.eval_only:
        default = default_weights(args, out_dir)
        weights = [os.path.abspath(w) if w else d
                   for w, d in zip((args.hrnet, args.mipnet), default)]
    else:
        stages, weights = finetune_recipe(args, data_dir, out_dir)
    eval_start = time.perf_counter()
    evaluations = evaluate_pair(weights, overrides(args, data_dir, out_dir), out_dir,
                                ('val', OCHUMAN_SPLIT))
    eval_seconds = time.perf_counter() - eval_start
    total = time.perf_counter() - start
    info, command = run_context(argv, load_start)
    summary = dict(command=command.strip(), args=vars(args), data=data_stats,
                   data_seconds=gen_seconds, stages=stages, weights=weights,
                   eval_seconds=eval_seconds, total_seconds=total, machine=info,
                   evaluations=evaluations)
    with open(os.path.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1, default=float)
    timing = ', '.join(f'{name} {st["seconds"] / 60:.1f} min' for name, st in stages.items()
                       if 'seconds' in st)
    report = '\n'.join([
        f'Command: `{summary["command"]}`', '',
        f'Run time: {total / 60:.1f} min in total ({timing + ", " if timing else ""}'
        f'evaluation {eval_seconds / 60:.1f} min); machine: {info["cpu"]}, {info["cores"]} '
        f'cores, torch {info["torch"]}; load average at start {load_start[0]:.1f}, at end '
        f'{info["load_average_end"][0]:.1f}.', '',
        'Checkpoints: ' + ', '.join(f'`{w}`' for w in weights), '',
        crowd_statistics_table(statistics_rows(data_dir, ('val', OCHUMAN_SPLIT))), '',
        eval_report(evaluations)])
    with open(os.path.join(out_dir, 'results.md'), 'w') as f:
        f.write(report)
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
