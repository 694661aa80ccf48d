"""Markdown tables of the MIPNet-vs-HRNet comparison (results.md): the metrics with the
occluded subset, people found, per-box outcomes, crowd-error rates and crowd-merged boxes,
read from the run dicts of :mod:`mipnet.analysis.compare`; and the machine the numbers come
from."""
import os
import platform

import numpy as np
import torch

from mipnet.analysis.settings import FOUND_OKS, OCHUMAN_SPLIT
from mipnet.data.synthetic import crowd_statistics_table, statistics_rows
from mipnet.engine.evaluate import MERGED, InstanceMode, modes_of
from mipnet.evaluation.subsets import (OCCLUDED_IOU, best_oks_per_person, crowd_error_rate,
                                       occluded_ann_ids)


def _f(v):
    """A metric with three decimals; COCOeval's -1 (no ground truth) as 'n/a'."""
    return f'{v:.3f}' if v >= 0 else 'n/a'


def mode_label(mode):
    """Row name of an :class:`mipnet.engine.evaluate.InstanceMode` in the tables."""
    return 'merged (λ = e0 and e1)' if mode == MERGED else f'λ = e{mode.instance} only'


def tables(runs, num_occluded):
    """Markdown: the main table and the per-instance table of MIPNet."""
    lines = ['| Model | AP | AP .5 | AP .75 | AR | AP occluded | AR occluded |',
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
        for mode in modes_of(run['metrics']):
            m, o = run['metrics'][mode.key], run['occluded'][mode.key]
            lines.append(f'| {mode_label(mode)} | {_f(m["AP"])} | {_f(m["AP .5"])} | '
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
        crowd = run['crowd_boxes']
        for mode in modes_of(crowd['metrics']):
            m, o = crowd['metrics'][mode.key], crowd['occluded'][mode.key]
            label = run['label'] if mode == MERGED else f'{run["name"]} {mode_label(mode)}'
            lines.append(f'| {label} | {_f(m["AP"])} | {_f(m["AP .5"])} | {_f(m["AR"])} | '
                         f'{_f(o["AP"])} | {_f(o["AR"])} | {_f(o["AR .5"])} |')
    return '\n'.join(lines)


def people_found(runs, oks_thre=FOUND_OKS):
    """Markdown table and counts: how many validation people (occluded subset / others)
    each model finds, i.e. has a kept pose with OKS >= ``oks_thre``
    (:func:`mipnet.evaluation.subsets.best_oks_per_person`, 20 poses per image as in AR),
    and how many each λ model finds that the baseline (``runs[0]``) misses and the reverse.
    λ models have a row for their first instance alone and one for the merged instances."""
    baseline = runs[0]
    ann_file = baseline['annotation_file']
    occluded = occluded_ann_ids(ann_file)

    def found(results):
        best = best_oks_per_person(ann_file, results)
        return {i for i, v in best.items() if v >= oks_thre}, set(best)

    base, people = found(baseline['results']['merged'])
    groups = (('occluded', people & occluded), ('others', people - occluded))
    rows, differences = [(baseline['label'], base)], []
    for run in runs[1:]:
        if len(run['results']) < 2:
            rows.append((run['label'], found(run['results']['merged'])[0]))
            differences.append(rows[-1])
            continue
        for mode in (InstanceMode(0), MERGED):
            if mode.key in run['results']:
                rows.append((f'{run["name"]} {mode_label(mode)}',
                             found(run['results'][mode.key])[0]))
        differences.append((rows[-1][0], rows[-1][1]))
    lines = [f'| People found (a pose with OKS >= {oks_thre}) | '
             + ' | '.join(f'{g} ({len(ids)})' for g, ids in groups) + ' |',
             '|---|' + '---|' * len(groups)]
    for name, ids in rows:
        lines.append(f'| {name} | ' + ' | '.join(str(len(ids & g)) for _, g in groups) + ' |')
    for name, merged in differences:
        lines.append(f'| found by {name}, missed by {baseline["name"]} | '
                     + ' | '.join(str(len((merged - base) & g)) for _, g in groups) + ' |')
        lines.append(f'| found by {baseline["name"]}, missed by {name} | '
                     + ' | '.join(str(len((base - merged) & g)) for _, g in groups) + ' |')
    counts = {name: {g: len(ids & members) for g, members in groups} for name, ids in rows}
    return '\n'.join(lines), counts


def variant_table(runs, oks_thre=FOUND_OKS):
    """Markdown: one row per run of one split, the numbers a fine-tuning variant is judged
    by. Ground-truth boxes: AP, AP .5, AR, AR of the occluded subset, people found (merged
    instances) and, per box before rescoring and OKS-NMS, the people whose own box's first
    instance shows them ('own box', the first-instance deficit) and the crowd-error rate
    of the occluded people; crowd-merged boxes: AR and AR .5 of the occluded subset."""
    lines = ['| Run | AP | AP .5 | AR | AR occluded | people found | own box (λ = e0) | '
             'crowd-error rate (occluded) | merged boxes: AR occluded | AR .5 occluded |',
             '|---|---|---|---|---|---|---|---|---|---|']
    _, counts = people_found(runs, oks_thre)
    for run in runs:
        m, o = run['metrics']['merged'], run['occluded']['merged']
        key = run['label'] if len(run['results']) < 2 else \
            f'{run["name"]} {mode_label(MERGED)}'
        found = sum(counts[key].values())
        own = sum(run['per_box'][g]['own'] for g in ('occluded', 'others'))
        rate = run['per_box']['occluded']['crowd_error_rate']
        crowd = run['crowd_boxes']['occluded']['merged']
        lines.append(f'| {run["label"]} | {_f(m["AP"])} | {_f(m["AP .5"])} | {_f(m["AR"])} | '
                     f'{_f(o["AR"])} | {found} | {own} | '
                     f'{"n/a" if np.isnan(rate) else f"{rate:.1%}"} | {_f(crowd["AR"])} | '
                     f'{_f(crowd["AR .5"])} |')
    return '\n'.join(lines)


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
        name = run['name']
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
        parts += [f'### Split `{split}`', '', variant_table(runs), '',
                  tables(runs, runs[0]['occluded']['merged']['num_gt']), '',
                  crowd_error_table(runs), '', found_table, '', per_box_table(runs), '',
                  crowd_box_table(runs), '']
    return '\n'.join(parts)


def machine():
    """CPU model, cores, Python, torch (and its threads) and system of this machine."""
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


def run_context(argv, load_start):
    """(machine dict with the load averages ``load_start`` at the start and now, the command
    line of benchmarks/compare_baseline.py with the arguments ``argv``)."""
    info = dict(machine(), load_average_start=load_start, load_average_end=os.getloadavg())
    return info, 'python benchmarks/compare_baseline.py ' + ' '.join(argv)



def scratch_report(summary):
    """results.md of a from-scratch comparison: command, run time and machine, then
    :func:`tables`, :func:`people_found`, :func:`per_box_table`, :func:`crowd_error_table`
    and :func:`crowd_box_table` of ``summary['runs']``."""
    runs, info, total = summary['runs'], summary['machine'], summary['total_seconds']
    found_table, _ = people_found(runs)
    return '\n'.join([
        f'Command: `{summary["command"]}`', '',
        f'Run time: {total / 60:.1f} min in total (data {summary["data_seconds"] / 60:.1f} '
        'min, ' + ', '.join(f'{r["name"]} {r["seconds"] / 60:.1f} min' for r in runs)
        + f'); machine: {info["cpu"]}, {info["cores"]} cores, torch {info["torch"]} '
          f'({info["torch_threads"]} threads); load average at start '
          f'{info["load_average_start"][0]:.1f}, at end {info["load_average_end"][0]:.1f}.', '',
        tables(runs, runs[0]['occluded']['merged']['num_gt']), '', found_table, '',
        per_box_table(runs), '', crowd_error_table(runs), '', crowd_box_table(runs), ''])


def finetune_table(stage):
    """Markdown: the fine-tuning runs of ``--recipe finetune`` (``summary['stages']
    ['finetune']``): what each variant changes, its epochs, instance 0's accuracy on the
    first training batch (how close the start is to the HRNet it came from) and its time."""
    lines = ['| Fine-tuning run | what it changes | epochs | first-batch accuracy (λ = e0) '
             '| minutes |', '|---|---|---|---|---|']
    for key, run in stage['variants'].items():
        pairs = dict(zip(run['overrides'][::2], run['overrides'][1::2]))
        acc = run.get('first_batch_accuracy')
        minutes = 'reused' if run.get('reused') else f'{run["seconds"] / 60:.1f}'
        lines.append(f'| {key} | {run["description"]} | {pairs["TRAIN.END_EPOCH"]} | '
                     f'{"n/a" if acc is None else f"{acc:.3f}"} | {minutes} |')
    return '\n'.join(lines)


def variant_row(run, counts):
    """The numbers of one run dict in :func:`seeds_table`'s column order; ``counts`` is
    :func:`people_found`'s for its split."""
    m, o = run['metrics']['merged'], run['occluded']['merged']
    key = run['label'] if len(run['results']) < 2 else f'{run["name"]} {mode_label(MERGED)}'
    own = sum(run['per_box'][g]['own'] for g in ('occluded', 'others'))
    crowd = run['crowd_boxes']['occluded']['merged']
    return [m['AP'], m['AP .5'], m['AR'], o['AR'], sum(counts[key].values()), own,
            run['per_box']['occluded']['crowd_error_rate'], crowd['AR'], crowd['AR .5']]


SEED_COLUMNS = ('AP', 'AP .5', 'AR', 'AR occluded', 'people found', 'own box (λ = e0)',
                'crowd-error rate (occluded)', 'merged boxes: AR occluded', 'AR .5 occluded')


def seeds_table(summaries, split):
    """Markdown: the runs of several ``--recipe finetune`` comparisons (``summary.json``
    dicts, one per seed, with the same runs) on ``split``, one row per run and each cell
    'seed a / seed b / ...', with the baseline's (first run's) differences under it."""
    per_seed = []
    for summary in summaries:
        runs = summary['evaluations'][split]
        _, counts = people_found(runs)
        per_seed.append({run['name']: variant_row(run, counts) for run in runs})
    names = list(per_seed[0])

    def cell(values, column):
        if column in (4, 5):
            return ' / '.join(str(int(v)) for v in values)
        if column == 6:
            return ' / '.join(f'{v:.1%}' for v in values)
        return ' / '.join(_f(v) for v in values)

    seeds = ' / '.join(str(s['args']['seed']) for s in summaries)
    lines = [f'| `{split}`, seeds {seeds} | ' + ' | '.join(SEED_COLUMNS) + ' |',
             '|---|' + '---|' * len(SEED_COLUMNS)]
    for name in names:
        rows = [seed[name] for seed in per_seed]
        lines.append(f'| {name} | ' + ' | '.join(cell([r[c] for r in rows], c)
                                                  for c in range(len(SEED_COLUMNS))) + ' |')
    return '\n'.join(lines)


def evaluation_report(summary, data_dir):
    """results.md of --eval-only / --recipe finetune: command, run time and machine, the
    checkpoints, the crowd statistics of both validation splits of ``data_dir`` and
    :func:`eval_report` of ``summary['evaluations']``."""
    info, total = summary['machine'], summary['total_seconds']
    timing = ', '.join(f'{name} {st["seconds"] / 60:.1f} min'
                       for name, st in summary['stages'].items() if 'seconds' in st)
    return '\n'.join([
        f'Command: `{summary["command"]}`', '',
        f'Run time: {total / 60:.1f} min in total ({timing + ", " if timing else ""}'
        f'evaluation {summary["eval_seconds"] / 60:.1f} min); machine: {info["cpu"]}, '
        f'{info["cores"]} cores, torch {info["torch"]}; load average at start '
        f'{info["load_average_start"][0]:.1f}, at end {info["load_average_end"][0]:.1f}.', '',
        'Checkpoints: ' + ', '.join(f'`{w}`' for w in summary['weights']), '',
        *([finetune_table(summary['stages']['finetune']), '']
          if 'finetune' in summary['stages'] else []),
        crowd_statistics_table(statistics_rows(data_dir, ('val', OCHUMAN_SPLIT))), '',
        eval_report(summary['evaluations'])])
