"""MIPNet vs its HRNet baseline on the synthetic crowded-people dataset, on CPU.

The command-line driver of :mod:`mipnet.analysis`, whose modules hold the analysis:

1. generates (or reuses) a synthetic dataset: a training split from the default generator
   and a more crowded, more occluded validation split (``VAL_SYNTHETIC`` of
   :mod:`mipnet.analysis.settings`);
2. trains ``pose_hrnet`` (experiments/synthetic/small_hrnet.yaml) and
   ``pose_hrnet_se_lambda`` (small_mipnet.yaml) with the same overrides, in two processes at
   the same time (``--no-parallel``: one after the other);
3. records after every ``--eval-freq`` epochs the validation metrics and those of the
   occluded subset (IoU >= 0.5 with another person's box);
4. evaluates the final weights per box before rescoring and OKS-NMS, and on crowd-merged
   boxes;
5. writes ``summary.json``, ``results.md``, ``compare_ap_vs_epoch.png`` and
   ``compare_predictions.png`` into ``--out`` (with ``--docs`` the figures also into
   docs/images/).

Usage::

    python benchmarks/compare_baseline.py --docs   # full budget: 14 epochs, see results.md
    python benchmarks/compare_baseline.py --quick  # smoke test, a few minutes
    python benchmarks/compare_baseline.py --eval-only [--hrnet CKPT --mipnet CKPT]
    python benchmarks/compare_baseline.py --recipe finetune [--base HRNET_CKPT]
    python benchmarks/compare_baseline.py --preset gpu   # one H100-class GPU, ~8 min budget

``--eval-only`` evaluates two checkpoints on the ``val`` and OCHuman-like ``val_ochuman``
splits; ``--recipe finetune`` runs the reference schedule in proportion through
tools/train.py first (:func:`mipnet.analysis.compare.finetune_recipe`): HRNet, then the
fine-tuning runs of ``--variants`` from it (HRNet continued, MIPNet in the reference form,
MIPNet with this port's first-instance protections; finished runs and evaluations are
reused), and writes ``compare_variants.png`` and ``compare_predictions.png``. Measured numbers
and the analysis: docs/results.md. Sizes can be overridden (``--num-train``, ``--epochs``,
...; presets: ``PRESETS``); ``--opts`` takes ``KEY VALUE`` config overrides for both models.
"""
import argparse
import json
import os
import shutil
import sys
import time

import cv2
import torch

from mipnet.analysis.compare import compare_checkpoints, compare_from_scratch
from mipnet.analysis.report import seeds_table
from mipnet.analysis.settings import (DEFAULT_VARIANTS, DEFAULTS, FINETUNE_VARIANTS,
                                      INPUT_SIZE, LR, OCHUMAN_SPLIT, PRESETS, ROOT, WD, WIDTH,
                                      log)


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
    parser.add_argument('--variants', type=lambda v: tuple(k for k in v.split(',') if k),
                        default=DEFAULT_VARIANTS,
                        help='--recipe finetune: comma-separated fine-tuning runs, an HRNet '
                             'one first (the baseline of the tables); default '
                             f'{",".join(DEFAULT_VARIANTS)}; known: '
                             + '; '.join(f'{k}: {v.description}'
                                         for k, v in FINETUNE_VARIANTS.items()))
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
                             'machine, see docs/results_archive.md)')
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
    parser.add_argument('--combine', nargs='+', metavar='OUT',
                        help='train nothing: print one table per split of the --recipe '
                             'finetune comparisons in these output folders (one per seed, '
                             'each cell "seed a / seed b")')
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
    unknown = [k for k in args.variants if k not in FINETUNE_VARIANTS]
    if unknown or not args.variants:
        parser.error(f'--variants: unknown {", ".join(unknown) or "(none given)"}; known: '
                     f'{", ".join(FINETUNE_VARIANTS)}')
    if FINETUNE_VARIANTS[args.variants[0]].spec.model != 'pose_hrnet':
        parser.error('--variants: the first run is the baseline of the tables and must be an '
                     'HRNet one (hrnet or hrnet_long)')
    if args.variants != DEFAULT_VARIANTS and args.recipe != 'finetune':
        parser.error('--variants belongs to --recipe finetune')
    if (args.hrnet or args.mipnet) and not args.eval_only:
        parser.error('--hrnet / --mipnet belong to --eval-only')
    return args


def combine(out_dirs):
    """The tables of :func:`mipnet.analysis.report.seeds_table` for the comparisons in
    ``out_dirs``; exits naming a folder without a summary."""
    summaries = []
    for folder in out_dirs:
        path = os.path.join(folder, 'summary.json')
        if not os.path.isfile(path):
            raise SystemExit(f'--combine: {path} not found (run the comparison first)')
        with open(path) as f:
            summaries.append(json.load(f))
    return '\n\n'.join(seeds_table(summaries, split)
                       for split in summaries[0]['evaluations'])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.combine:
        print(combine(args.combine))
        return 0
    data_dir = os.path.abspath(os.path.join(ROOT, args.data))
    out_dir = os.path.abspath(os.path.join(ROOT, args.out))
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    start, load_start = time.perf_counter(), os.getloadavg()
    log(f'preset {args.preset}: {vars(args)}')
    if args.eval_only or args.recipe == 'finetune':
        report, figures = compare_checkpoints(args, argv, data_dir, out_dir, start, load_start)
    else:
        report, figures = compare_from_scratch(args, argv, data_dir, out_dir, start, load_start)
    if args.docs:
        docs = os.path.join(ROOT, 'docs', 'images')
        os.makedirs(docs, exist_ok=True)
        for path in figures:
            shutil.copy(path, os.path.join(docs, os.path.basename(path)))
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
