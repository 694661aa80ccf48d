"""End-to-end smoke test of benchmarks/compare_baseline.py on a tiny dataset (both models
trained at the same time in two processes, as the full comparison runs)."""
import importlib.util
import json
import os
import re
import subprocess
import sys

import cv2
import pytest

from mipnet.analysis.settings import overrides
from tests.conftest import REPO

SCRIPT = REPO / 'benchmarks' / 'compare_baseline.py'


def test_tiny_comparison_writes_tables_plot_and_figure(tmp_path):
    out = tmp_path / 'out'
    res = subprocess.run([sys.executable, str(SCRIPT), '--data', str(tmp_path / 'data'),
                          '--out', str(out), '--num-train', '8', '--num-val', '6',
                          '--epochs', '1', '--gen-workers', '1', '--width', '8'],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    runs = summary['runs']
    assert [r['model'] for r in runs] == ['pose_hrnet', 'pose_hrnet_se_lambda']
    assert list(runs[0]['metrics']) == ['merged']
    assert list(runs[1]['metrics']) == ['merged', 'instance 0', 'instance 1']
    assert all(len(r['history']) == 1 for r in runs)
    # Both models saw the same data and schedule: identical override lists.
    opts = summary['overrides']
    assert opts[opts.index('TRAIN.END_EPOCH') + 1] == '1'
    assert opts[opts.index('MODEL.EXTRA.STAGE4.NUM_CHANNELS') + 1] == '[8,16,32,64]'
    occluded = runs[0]['occluded']['merged']['num_gt']
    found = summary['people_found']
    assert set(found) == {'HRNet (pose_hrnet)', 'MIPNet λ = e0 only',
                          'MIPNet merged (λ = e0 and e1)'}
    for counts in found.values():
        assert 0 <= counts['occluded'] <= occluded
    for run in runs:  # per-box outcomes before NMS: consistent counts
        for group in ('occluded', 'others'):
            box = run['per_box'][group]
            assert box['own'] + box['other'] <= box['people']
            assert box['own'] <= box['found'] <= box['people']
        assert run['per_box']['occluded']['people'] == occluded
    # Crowd-merged boxes: the same box file for both models, at most one box per person,
    # both models evaluated on it with the occluded subset of the ground truth.
    gt = json.loads((tmp_path / 'data' / 'annotations' / 'person_keypoints_val.json')
                    .read_text())
    boxes = [r['crowd_boxes'] for r in runs]
    assert boxes[0]['boxes'] == boxes[1]['boxes'] <= len(gt['annotations'])
    assert list(boxes[1]['metrics']) == ['merged', 'instance 0', 'instance 1']
    assert all(b['occluded']['merged']['num_gt'] == occluded for b in boxes)
    report = (out / 'results.md').read_text()
    assert 'Crowd-merged boxes' in report and '| MIPNet λ = e1 only |' in report
    assert '| HRNet (pose_hrnet) |' in report and 'People found' in report
    assert 'MIPNet λ = e0: the box\'s pose is another person instead' in report
    for name in ('compare_ap_vs_epoch.png', 'compare_predictions.png'):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 100, name


def _load_script():
    spec = importlib.util.spec_from_file_location('compare_baseline_script', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_presets_and_arguments(tmp_path):
    cb = _load_script()
    gpu = cb.parse_args(['--preset', 'gpu'])
    assert (gpu.width, gpu.input_size, gpu.device, gpu.amp, gpu.recipe) == \
        (32, (192, 256), 'cuda', True, 'finetune')
    assert gpu.gen_workers == os.cpu_count() and gpu.num_train >= 3000
    opts = overrides(gpu, 'D', 'O')
    pairs = dict(zip(opts[::2], opts[1::2]))
    assert pairs['TRAIN.AMP'] == 'true' and pairs['DEVICE'] == 'cuda'
    assert pairs['MODEL.IMAGE_SIZE'] == '[192,256]' and pairs['MODEL.HEATMAP_SIZE'] == '[48,64]'
    assert pairs['MODEL.EXTRA.STAGE4.NUM_CHANNELS'] == '[32,64,128,256]'
    # --quick and the default preset are unchanged: from scratch on CPU, one LR drop at 80 %.
    quick, full = cb.parse_args(['--quick']), cb.parse_args([])
    assert (quick.preset, quick.num_train, quick.epochs, quick.recipe) == \
        ('quick', 600, 3, 'scratch')
    assert (full.preset, full.num_train, full.epochs, full.width, full.lr) == \
        ('full', 3000, 14, 16, 0.0005)
    pairs = dict(zip(*[iter(overrides(full, 'D', 'O'))] * 2))
    assert pairs['TRAIN.LR_STEP'] == '[11]' and 'TRAIN.AMP' not in pairs
    assert pairs['DEVICE'] == 'cpu' and pairs['MODEL.IMAGE_SIZE'] == '[64,96]'
    with pytest.raises(SystemExit):
        cb.parse_args(['--eval-only', '--recipe', 'finetune'])
    with pytest.raises(SystemExit):
        cb.parse_args(['--hrnet', 'x.pth'])
    # Fine-tuning variants: known keys, an HRNet baseline first, only with the recipe.
    args = cb.parse_args(['--recipe', 'finetune', '--variants', 'hrnet,identity,identity_iw'])
    assert args.variants == ('hrnet', 'identity', 'identity_iw')
    for bad in (['--recipe', 'finetune', '--variants', 'hrnet,nope'],
                ['--recipe', 'finetune', '--variants', 'identity,hrnet'],
                ['--variants', 'hrnet,identity']):
        with pytest.raises(SystemExit):
            cb.parse_args(bad)


def test_gpu_preset_plumbing_on_cpu_then_eval_only(tmp_path):
    """--preset gpu at a tiny size on CPU (AMP on: bfloat16 autocast): HRNet first, then
    MIPNet fine-tuned and HRNet continued from its weights through tools/train.py, both
    evaluated on the regular and the OCHuman-like split; --eval-only on the same checkpoints
    gives the same numbers."""
    data, out = tmp_path / 'data', tmp_path / 'out'
    common = ['--data', str(data), '--num-train', '8', '--num-val', '4',
              '--num-val-ochuman', '4', '--gen-workers', '1', '--width', '8',
              '--input-size', '32', '64', '--batch-size', '4', '--workers', '0',
              '--threads', '1', '--device', 'cpu']
    res = subprocess.run([sys.executable, str(SCRIPT), '--preset', 'gpu', '--epochs', '2',
                          '--eval-freq', '1', '--out', str(out)] + common,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    base, finetune = summary['stages']['base'], summary['stages']['finetune']
    pairs = dict(zip(base['overrides'][::2], base['overrides'][1::2]))
    assert pairs['TRAIN.AMP'] == 'true' and pairs['TRAIN.END_EPOCH'] == '2'
    assert pairs['TRAIN.LR_STEP'] == '[2,3]' and pairs['TRAIN.LR'] == '0.001'
    assert list(finetune['variants']) == ['hrnet', 'reference']
    for variant in finetune['variants'].values():
        pairs = dict(zip(variant['overrides'][::2], variant['overrides'][1::2]))
        assert pairs['TRAIN.END_EPOCH'] == '1' and not variant['reused']
    assert finetune['epochs'] == 1 and finetune['init_checkpoint'] == base['checkpoint']
    assert base['checkpoint'].endswith('pose_hrnet/small_hrnet/final_state.pth')
    # Both continuations started from the HRNet weights; MIPNet with fresh λ blocks only.
    logs = {name: (out / 'finetune' / name / 'train.log').read_text()
            for name in ('hrnet', 'reference')}
    assert re.search(f'initialised from {re.escape(base["checkpoint"])}: loaded (\\d+) of '
                     "the model's \\1 tensors; none left initialised", logs['hrnet'])
    assert re.search(f'initialised from {re.escape(base["checkpoint"])}: loaded \\d+ of the '
                     "model's \\d+ tensors; left \\d+ tensors of .* initialised \\(λ blocks\\)",
                     logs['reference'])
    assert summary['data']['val_ochuman']['min_max_iou'] >= 0.5
    evaluations = summary['evaluations']
    assert list(evaluations) == ['val', 'val_ochuman']
    for split, runs in evaluations.items():
        assert [r['model'] for r in runs] == ['pose_hrnet', 'pose_hrnet_se_lambda']
        assert list(runs[1]['metrics']) == ['merged', 'instance 0', 'instance 1']
        for run in runs:
            box = run['per_box']['occluded']
            assert box['crowd_error_rate'] == box['other'] / box['people']
            assert run['crowd_boxes']['boxes'] >= 1
    # Every person of the OCHuman-like split is in the occluded subset.
    ochuman = evaluations['val_ochuman'][0]
    assert ochuman['per_box']['others']['people'] == 0
    assert ochuman['occluded']['merged']['num_gt'] == summary['data']['val_ochuman']['people']
    report = (out / 'results.md').read_text()
    assert '### Split `val_ochuman`' in report and '| synthetic val_ochuman | 4 |' in report
    assert 'Crowd-error rate' in report and 'OCHuman, published' in report

    res = subprocess.run([sys.executable, str(SCRIPT), '--eval-only', '--out',
                          str(tmp_path / 'eval'), '--hrnet', summary['weights'][0],
                          '--mipnet', summary['weights'][1]] + common,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    again = json.loads((tmp_path / 'eval' / 'summary.json').read_text())
    assert again['weights'] == summary['weights'] and again['stages'] == {}
    for split in ('val', 'val_ochuman'):
        for a, b in zip(again['evaluations'][split], evaluations[split]):
            assert a['metrics'] == b['metrics'] and a['per_box'] == b['per_box']

    # Run again with one more variant: the finished runs (stage 1, both continuations) are
    # reused, only the new one trains, and it starts where HRNet is (identity start).
    res = subprocess.run([sys.executable, str(SCRIPT), '--preset', 'gpu', '--epochs', '2',
                          '--eval-freq', '1', '--out', str(out),
                          '--variants', 'hrnet,reference,identity'] + common,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert res.stdout.count('reusing the finished run') == 3, res.stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['stages']['base']['reused']
    assert [k for k, v in summary['stages']['finetune']['variants'].items()
            if not v['reused']] == ['identity']
    assert [r['label'] for r in summary['evaluations']['val']] == [
        'HRNet continued (pose_hrnet)', 'MIPNet reference (pose_hrnet_se_lambda)',
        'MIPNet identity (pose_hrnet_se_lambda)']
    report = (out / 'results.md').read_text()
    assert '| MIPNet identity (pose_hrnet_se_lambda) |' in report and 'own box' in report
    # Instance 0 on the first batch: the identity start begins where HRNet is.
    accuracy = {k: v['first_batch_accuracy']
                for k, v in summary['stages']['finetune']['variants'].items()}
    assert all(0.0 <= a <= 1.0 for a in accuracy.values()) and 'first-batch accuracy' in report
    for name in ('compare_variants.png', 'compare_predictions.png'):
        image = cv2.imread(str(out / name))
        assert image is not None and image.shape[0] > 100, name
    # Ground truth and one column per run in the prediction figure.
    assert cv2.imread(str(out / 'compare_predictions.png')).shape[1] >= 4 * 2 * 192

    # Seeds combined: one row per run, a value per comparison folder in each cell.
    res = subprocess.run([sys.executable, str(SCRIPT), '--combine', str(out), str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [line for line in res.stdout.splitlines() if line.startswith('| MIPNet identity |')]
    assert len(rows) == 2  # val and val_ochuman
    ap = summary['evaluations']['val'][2]['metrics']['merged']['AP']
    assert rows[0].split(' | ')[1] == f'{ap:.3f} / {ap:.3f}'

    missing = subprocess.run([sys.executable, str(SCRIPT), '--eval-only', '--out',
                              str(tmp_path / 'none')] + common,
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0
    assert 'final_state.pth not found' in missing.stderr
