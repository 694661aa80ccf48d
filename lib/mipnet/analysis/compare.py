"""Runs of the MIPNet-vs-HRNet comparison on synthetic crowds: the dataset (generated once
per parameter set), both models trained from scratch side by side with the occluded subset
recorded after every validation (a training hook), the reference fine-tuning recipe in
proportion through tools/train.py, and the final weights' evaluation."""
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import time

import cv2
import torch

from mipnet.analysis.evaluation import (annotation_file, crowd_box_metrics, evaluate_runs,
                                        occluded_metrics, per_box_outcomes, results_files)
from mipnet.analysis.figures import draw_predictions, plot_history, plot_variants
from mipnet.analysis.report import (evaluation_report, people_found, run_context,
                                    scratch_report)
from mipnet.analysis.settings import (DEFAULT_VARIANTS, FINETUNE_VARIANTS, IMAGE_SIZE, MODELS,
                                      OCHUMAN_SPLIT, REFERENCE_FINETUNE_FRACTION,
                                      REFERENCE_FINETUNE_STEPS, REFERENCE_HRNET_STEPS, ROOT,
                                      TRAIN_SYNTHETIC, VAL_SYNTHETIC, log, overrides,
                                      scaled_steps)
from mipnet.config import default_config, load_config, run_output_dir
from mipnet.data.synthetic import (OCHUMAN_LIKE, crowd_statistics, generate_split,
                                   overlap_pair_fraction)
from mipnet.engine.evaluate import MERGED, results_file
from mipnet.engine.hooks import Hook
from mipnet.engine.train import train
from mipnet.evaluation.metrics import load_coco
from mipnet.evaluation.subsets import OCCLUDED_IOU, occluded_ann_ids, subset_keypoint_eval
from mipnet.utils.checkpoint import CheckpointError, load_file
from mipnet.utils.files import json_writer, write_files_atomic, write_json_atomic


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
    write_json_atomic(stamp_path, {'params': params, 'stats': stats, 'seconds': seconds},
                      indent=1)
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
    write_json_atomic(stamp_path, {'params': params, 'stats': stats,
                                   'seconds': time.perf_counter() - start}, indent=1)
    return stats


class OccludedSubsetHook(Hook):
    """Training hook: after every validation, the metrics of the occluded subset
    (annotation ids ``occluded_ids`` of the ground truth ``gt``) from the merged result file
    that validation wrote; appends {'metrics', 'occluded'} to ``self.evaluations``."""

    def __init__(self, label, gt, occluded_ids):
        self.label, self.gt, self.occluded_ids = label, gt, occluded_ids
        self.evaluations = []

    def after_validation(self, trainer, epoch, metrics):
        path = results_file(trainer.output_dir, trainer.cfg.DATASET.TEST_SET, MERGED)
        occluded = subset_keypoint_eval(self.gt, path, trainer.valid_loader.dataset.meta,
                                        ann_ids=self.occluded_ids)
        self.evaluations.append({'metrics': metrics, 'occluded': occluded})
        merged = metrics[MERGED.key]
        log(f'{self.label}: AP {merged["AP"]:.3f}  AR {merged["AR"]:.3f}'
            f'  occluded AP {occluded["AP"]:.3f} AR {occluded["AR"]:.3f}')


def train_and_evaluate(spec, opts, threads=1):
    """Train the model ``spec`` (a :class:`mipnet.analysis.settings.ModelSpec`, its config
    with ``opts``) with :func:`mipnet.engine.train.train` using ``threads`` torch threads,
    recording the occluded subset after every validation (:class:`OccludedSubsetHook`);
    then evaluate its final weights (occluded subset, per-box outcomes, crowd-merged
    boxes). Returns the run dict the report tables read."""
    torch.set_num_threads(threads)
    cv2.setNumThreads(1)

    cfg = load_config(spec.cfg_path, opts)
    ann_file = annotation_file(cfg)
    # Read once for every subset evaluation below: none of them modifies it.
    gt = load_coco(ann_file)
    occluded_ids = occluded_ann_ids(gt)
    recorder = OccludedSubsetHook(spec.label, gt, occluded_ids)
    log(f'training {spec.label} ({cfg.MODEL.NAME}), {cfg.TRAIN.END_EPOCH} epochs')
    start = time.perf_counter()
    summary = train(cfg, spec.cfg_path, hooks=[recorder])
    seconds = time.perf_counter() - start
    out_dir = summary['output_dir']
    history = [dict(h, AR=e['metrics']['merged']['AR'], occluded_AP=e['occluded']['AP'],
                    occluded_AR=e['occluded']['AR'])
               for h, e in zip(summary['history'], recorder.evaluations)]
    final = summary['metrics']
    log(f'{spec.label}: done in {seconds / 60:.1f} min')
    weights = os.path.join(out_dir, 'final_state.pth')
    return dict(label=spec.label, name=spec.name, model=cfg.MODEL.NAME, config=spec.cfg_file,
                output_dir=out_dir, seconds=seconds,
                per_box=per_box_outcomes(cfg, weights, gt, occluded_ids),
                crowd_boxes=crowd_box_metrics(cfg, weights, out_dir, gt, occluded_ids),
                epoch_losses=summary['epoch_losses'],
                steady_samples_per_s=summary.get('steady_samples_per_s'),
                history=history, metrics=final,
                occluded=occluded_metrics(gt, out_dir, cfg, final, occluded_ids),
                results=results_files(out_dir, cfg, final), annotation_file=ann_file)


def train_pair(opts, threads=1, parallel=True):
    """:func:`train_and_evaluate` of both ``MODELS`` with the same ``opts``; with
    ``parallel`` at the same time in two processes (they share nothing but the read-only
    data). Returns [HRNet run, MIPNet run]."""
    jobs = [(spec, opts, threads) for spec in MODELS]
    if not parallel:
        return [train_and_evaluate(*job) for job in jobs]
    with mp.get_context('spawn').Pool(len(jobs)) as pool:
        runs = pool.starmap(train_and_evaluate, jobs)
        # Let the workers exit on their own: with the context manager's terminate() alone,
        # every run ended with a 'leaked semaphore' warning at exit.
        pool.close()
        pool.join()
    return runs


def train_subprocess(spec, opts, log_path, threads, init_checkpoint=None):
    """Start ``tools/train.py --cfg CFG [--init_checkpoint C] opts`` for the model ``spec``
    with ``threads`` OpenMP / MKL threads, its output into ``log_path``; returns the Popen."""
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), '--cfg', spec.cfg_path]
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


def final_weights(out_dir, spec, opts):
    """``final_state.pth`` of a training run of the model ``spec`` with ``opts`` in
    ``out_dir``."""
    cfg = load_config(spec.cfg_path, opts)
    return os.path.join(run_output_dir(cfg, spec.cfg_path, out_dir), 'final_state.pth')


def finished_run(spec, opts, init_checkpoint=None):
    """True when the run folder of the model ``spec`` with ``opts`` (initialised from
    ``init_checkpoint``) holds a finished run of exactly that config: ``final_state.pth``
    beside a ``checkpoint.pth`` of the last epoch whose recorded config equals it (output and log folders aside, so that a run folder can
    be moved; keys added since the run was made compare at their defaults). A comparison
    run again reuses such runs instead of training them again."""
    cfg = load_config(spec.cfg_path, list(opts) + ['TRAIN.INIT_CHECKPOINT', init_checkpoint or ''])
    run_dir = run_output_dir(cfg, spec.cfg_path)
    if not os.path.isfile(os.path.join(run_dir, 'final_state.pth')):
        return False
    try:
        state = load_file(os.path.join(run_dir, 'checkpoint.pth'))
        recorded = default_config()
        recorded.merge_from_other_cfg(recorded.load_cfg(state['config']))
    except (CheckpointError, KeyError, TypeError, ValueError, AttributeError):
        return False
    recorded.OUTPUT_DIR, recorded.LOG_DIR = cfg.OUTPUT_DIR, cfg.LOG_DIR
    return int(state.get('epoch', -1)) == cfg.TRAIN.END_EPOCH and recorded.dump() == cfg.dump()


def train_runs(jobs, threads, parallel):
    """Train the runs ``jobs`` ([(name, spec, opts, log path, init checkpoint or None)])
    through tools/train.py, all at the same time with ``parallel`` (else one after the
    other), skipping those already finished (:func:`finished_run`). Returns {name:
    {'seconds', 'reused'}}."""
    info, procs, start = {}, [], time.perf_counter()
    for name, spec, opts, log_path, init in jobs:
        if finished_run(spec, opts, init):
            log(f'{name}: reusing the finished run of {final_weights(None, spec, opts)}')
            info[name] = dict(seconds=0.0, reused=True)
            continue
        procs.append((name, train_subprocess(spec, opts, log_path, threads, init), log_path))
        info[name] = dict(reused=False)
        if not parallel:
            wait_all(procs[-1:])
            info[name]['seconds'] = time.perf_counter() - start
            start = time.perf_counter()
    if parallel:
        wait_all(procs)
        for name, _, _ in procs:
            info[name]['seconds'] = time.perf_counter() - start
    return info


def first_batch_accuracy(out_dir):
    """Instance 0's heatmap accuracy on the first training batch of the run whose log files
    lie under ``out_dir`` (how far the start is from the weights it was initialised from),
    or None when no log records it."""
    pattern = re.compile(r'Epoch: \[0\]\[0/\d+\].*?Accuracy ([\d.]+)')
    for folder, _, files in os.walk(out_dir):
        for name in sorted(files):
            if name.startswith('train') and name.endswith('.log'):
                with open(os.path.join(folder, name), errors='replace') as f:
                    match = pattern.search(f.read())
                if match:
                    return float(match.group(1))
    return None


def finetune_recipe(args, data_dir, out_dir):
    """The reference schedule in proportion, through tools/train.py subprocesses:

    1. HRNet trained ``args.epochs`` epochs, LR drops at the reference HRNet's 170/210 and
       200/210 of them (skipped with ``args.base``, an HRNet checkpoint to start from);
    2. from its final weights (``--init_checkpoint``, the project's initialisation path:
       λ blocks fresh, a new optimizer), each fine-tuning variant of ``args.variants``
       (:data:`mipnet.analysis.settings.FINETUNE_VARIANTS`: HRNet continued, MIPNet in the
       reference form, MIPNet with a first-instance protection, ...) with
       ``finetune_epochs`` (default 110/210 of ``args.epochs``) times its epochs factor,
       LR drops at 70/110 and 100/110 of them, same seed and data; side by side with
       ``args.parallel``, each into ``out_dir``/finetune/<variant>.

    Runs already finished with the same config are reused (:func:`finished_run`).

    Returns (dict of the stages' overrides, seconds and checkpoints, [(variant, final
    weights)] in ``args.variants`` order)."""
    info = {}
    hrnet = MODELS[0]
    if args.base:
        base = os.path.abspath(args.base)
        info['base'] = dict(checkpoint=base, trained=False)
    else:
        base_dir = os.path.join(out_dir, 'base')
        opts = overrides(args, data_dir, base_dir,
                         lr_steps=scaled_steps(args.epochs, REFERENCE_HRNET_STEPS))
        log(f'stage 1: HRNet, {args.epochs} epochs')
        stage = train_runs([('HRNet base', hrnet, opts, os.path.join(base_dir, 'train.log'),
                             None)], args.threads, True)['HRNet base']
        base = final_weights(base_dir, hrnet, opts)
        info['base'] = dict(checkpoint=base, trained=True, overrides=opts, **stage)
    epochs = args.finetune_epochs or max(1, int(round(args.epochs * REFERENCE_FINETUNE_FRACTION)))
    ft_dir = os.path.join(out_dir, 'finetune')
    variants = [FINETUNE_VARIANTS[key] for key in args.variants]
    log(f'stage 2: {", ".join(v.key for v in variants)} from {base}, {epochs} epochs '
        '(x the variant\'s factor)')
    jobs, stage_opts = [], {}
    for variant in variants:
        run_epochs = epochs * variant.epochs_factor
        run_dir = os.path.join(ft_dir, variant.key)
        stage_opts[variant.key] = overrides(
            args, data_dir, run_dir, epochs=run_epochs,
            lr_steps=scaled_steps(run_epochs, REFERENCE_FINETUNE_STEPS)) + list(variant.opts)
        jobs.append((variant.key, variant.spec, stage_opts[variant.key],
                     os.path.join(run_dir, 'train.log'), base))
    start = time.perf_counter()
    runs = train_runs(jobs, args.threads, args.parallel)
    info['finetune'] = dict(epochs=epochs, init_checkpoint=base,
                            seconds=time.perf_counter() - start,
                            variants={v.key: dict(runs[v.key], overrides=stage_opts[v.key],
                                                  description=v.description,
                                                  first_batch_accuracy=first_batch_accuracy(
                                                      os.path.join(ft_dir, v.key)))
                                      for v in variants})
    return info, [(v, final_weights(os.path.join(ft_dir, v.key), v.spec, stage_opts[v.key]))
                  for v in variants]


def default_weights(args, out_dir):
    """Final weights of the preset's from-scratch comparison run in ``out_dir``."""
    opts = overrides(args, os.path.join(ROOT, args.data), out_dir)
    return [final_weights(out_dir, spec, opts) for spec in MODELS]



def write_summary_and_report(out_dir, summary, report):
    """``summary.json`` and ``results.md`` into ``out_dir``."""
    write_files_atomic([(os.path.join(out_dir, 'summary.json'),
                         json_writer(summary, indent=1, default=float)),
                        (os.path.join(out_dir, 'results.md'), lambda f: f.write(report))])


def compare_from_scratch(args, argv, data_dir, out_dir, start, load_start):
    """Both models trained from scratch side by side on the dataset of ``data_dir``
    (:func:`prepare_data`, :func:`train_pair`) with the options ``args`` of
    benchmarks/compare_baseline.py (given as ``argv``); writes summary.json, results.md
    and the figures compare_ap_vs_epoch.png and compare_predictions.png into ``out_dir``.
    ``start`` (perf_counter) and ``load_start`` (load averages) were taken at the start.
    Returns (results.md text, [figure paths])."""
    data_stats, gen_seconds = prepare_data(data_dir, args.num_train, args.num_val, args.seed,
                                           args.gen_workers, args.regenerate)
    opts = overrides(args, data_dir, out_dir)
    runs = train_pair(opts, args.threads, args.parallel)
    total = time.perf_counter() - start
    _, found_counts = people_found(runs)
    figures = [os.path.join(out_dir, 'compare_ap_vs_epoch.png'),
               os.path.join(out_dir, 'compare_predictions.png')]
    plot_history(runs, figures[0])
    figure_ids = draw_predictions(runs, figures[1])
    info, command = run_context(argv, load_start)
    summary = dict(command=command.strip(), args=vars(args), overrides=opts,
                   data=data_stats, data_seconds=gen_seconds, total_seconds=total,
                   machine=info, figure_image_ids=figure_ids, people_found=found_counts,
                   runs=runs)
    report = scratch_report(summary)
    write_summary_and_report(out_dir, summary, report)
    return report, figures


def compare_checkpoints(args, argv, data_dir, out_dir, start, load_start):
    """--eval-only and --recipe finetune: a trained HRNet / MIPNet pair (``args.hrnet`` /
    ``args.mipnet``, default the preset's from-scratch run; or trained by
    :func:`finetune_recipe`) evaluated on the regular and the OCHuman-like validation
    splits (:func:`mipnet.analysis.evaluation.evaluate_pair`); writes summary.json and
    results.md into ``out_dir``; returns the results.md text."""
    data_stats, gen_seconds = prepare_data(data_dir, args.num_train, args.num_val, args.seed,
                                           args.gen_workers, args.regenerate)
    data_stats[OCHUMAN_SPLIT] = prepare_ochuman_split(data_dir, args.num_val_ochuman,
                                                      args.seed, args.gen_workers,
                                                      args.regenerate)
    stages = {}
    if args.eval_only:
        default = default_weights(args, out_dir)
        runs = [(FINETUNE_VARIANTS[key], os.path.abspath(w) if w else d)
                for key, w, d in zip(DEFAULT_VARIANTS, (args.hrnet, args.mipnet), default)]
    else:
        stages, runs = finetune_recipe(args, data_dir, out_dir)
    weights = [w for _, w in runs]
    eval_start = time.perf_counter()
    evaluations = evaluate_runs(runs, overrides(args, data_dir, out_dir), out_dir,
                                ('val', OCHUMAN_SPLIT))
    eval_seconds = time.perf_counter() - eval_start
    figures = [os.path.join(out_dir, 'compare_variants.png'),
               os.path.join(out_dir, 'compare_predictions.png')]
    plot_variants(evaluations, figures[0])
    # Ground truth, the baseline and up to three λ runs on the OCHuman-like split.
    figure_ids = draw_predictions(evaluations[OCHUMAN_SPLIT][:4], figures[1])
    total = time.perf_counter() - start
    info, command = run_context(argv, load_start)
    summary = dict(command=command.strip(), args=vars(args), data=data_stats,
                   data_seconds=gen_seconds, stages=stages, weights=weights,
                   eval_seconds=eval_seconds, total_seconds=total, machine=info,
                   figure_image_ids=figure_ids, evaluations=evaluations)
    report = evaluation_report(summary, data_dir)
    write_summary_and_report(out_dir, summary, report)
    return report, figures
