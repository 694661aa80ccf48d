"""End-to-end smoke test of benchmarks/compare_baseline.py on a tiny dataset (both models
trained at the same time in two processes, as the full comparison runs)."""
import json
import subprocess
import sys

import cv2

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
