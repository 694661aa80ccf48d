"""COCO keypoint AP/AR on the real COCO and OCHuman samples."""
import json

import numpy as np
import pytest

from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation import COCO_METRIC_NAMES, format_metrics_table, keypoint_eval
from mipnet.evaluation.metrics import metrics_table_note

from ._helpers import gt_as_results, load_json

SIGMAS = get_keypoint_meta('coco').sigmas_array
RECALL_THRESHOLDS = np.linspace(0, 1, 101)


def oks_of_shift(kpts, area, shift):
    """OKS between a gt pose and the same pose translated by ``shift`` px (labelled joints)."""
    kp = np.asarray(kpts, dtype=np.float64).reshape(-1, 3)
    vis = kp[:, 2] > 0
    e = shift ** 2 / (2 * SIGMAS) ** 2 / (area + np.spacing(1)) / 2
    return float(np.mean(np.exp(-e[vis])))


def shift_for_oks(kpts, area, target):
    lo, hi = 0.0, 1000.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if oks_of_shift(kpts, area, mid) > target else (lo, mid)
    return (lo + hi) / 2


def test_gt_as_predictions_is_perfect(coco_gt_file):
    gt = load_json(coco_gt_file)
    metrics = keypoint_eval(coco_gt_file, gt_as_results(gt), 'coco')
    assert list(metrics) == list(COCO_METRIC_NAMES)
    for name, value in metrics.items():
        assert value == pytest.approx(1.0), name


def test_known_perturbation(coco_gt_file, tmp_path):
    """One person (alone in image 785, lowest score) shifted so that its OKS is 0.62:
    a true positive at IoU .50/.55/.60, a false positive (and a miss) above. With 12
    evaluable people, AP at a failing threshold = #{recall thresholds <= 11/12} / 101."""
    gt = load_json(coco_gt_file)
    results = gt_as_results(gt)
    idx = next(i for i, r in enumerate(results) if r['image_id'] == 785)
    ann = next(a for a in gt['annotations'] if a['image_id'] == 785)
    d = shift_for_oks(ann['keypoints'], ann['area'], 0.62)
    kp = np.array(results[idx]['keypoints'], dtype=np.float64).reshape(-1, 3)
    kp[:, 0] += d  # shift along x only: distance d
    results[idx] = dict(results[idx], keypoints=kp.reshape(-1).tolist(), score=0.5)
    n = len(results)
    assert n == 12
    fail_ap = np.sum(RECALL_THRESHOLDS <= (n - 1) / n) / 101
    expected_ap = (3 * 1.0 + 7 * fail_ap) / 10
    expected_ar = (3 * 1.0 + 7 * (n - 1) / n) / 10

    path = tmp_path / 'results.json'
    path.write_text(json.dumps(results))
    metrics = keypoint_eval(coco_gt_file, str(path), 'coco')  # results from a JSON file
    assert metrics['AP'] == pytest.approx(expected_ap)
    assert metrics['AP .5'] == pytest.approx(1.0)
    assert metrics['AP .75'] == pytest.approx(fail_ap)
    assert metrics['AR'] == pytest.approx(expected_ar)
    assert metrics['AR .75'] == pytest.approx((n - 1) / n)
    assert metrics['AP'] < 1.0


def test_empty_results_are_zero(coco_gt_file):
    metrics = keypoint_eval(coco_gt_file, [], 'coco')
    assert all(v == 0.0 for v in metrics.values()), metrics


def test_unknown_image_ids_are_named(coco_gt_file):
    gt = load_json(coco_gt_file)
    results = gt_as_results(gt) + [dict(gt_as_results(gt)[0], image_id=123456789)]
    with pytest.raises(ValueError, match='123456789'):
        keypoint_eval(coco_gt_file, results, 'coco')


def test_malformed_results(coco_gt_file):
    gt = load_json(coco_gt_file)
    bad = [dict(gt_as_results(gt)[0], keypoints=[1.0, 2.0, 1.0] * 14)]
    with pytest.raises(ValueError, match='keypoint values'):
        keypoint_eval(coco_gt_file, bad, 'coco')
    with pytest.raises(ValueError, match='result 0'):
        keypoint_eval(coco_gt_file, [{'image_id': 785}], 'coco')


@pytest.mark.parametrize('key, value', [('score', True), ('image_id', True),
                                        ('category_id', True), ('keypoints', False)])
def test_boolean_fields_of_results_are_refused(coco_gt_file, tmp_path, key, value):
    """Issue 27, item 11: ``"score": true`` was scored as 1.0 (float(True)); ``"image_id":
    true`` would have matched image 1."""
    gt = load_json(coco_gt_file)
    results = gt_as_results(gt)
    results[3] = dict(results[3], **{key: value if key != 'keypoints' else
                                     [value] + results[3]['keypoints'][1:]})
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(results))
    with pytest.raises(ValueError, match=f'^results file {path}: result 3 has a boolean '
                                         f'{key} '):
        keypoint_eval(coco_gt_file, str(path), 'coco')
    with pytest.raises(ValueError, match=f'^result 3 has a boolean {key} '):
        keypoint_eval(coco_gt_file, results, 'coco')


def test_numpy_results_and_caller_records_untouched(coco_gt_file):
    gt = load_json(coco_gt_file)
    results = [dict(r, keypoints=np.asarray(r['keypoints'], np.float32),
                    image_id=np.int64(r['image_id'])) for r in gt_as_results(gt)]
    before = [set(r) for r in results]
    assert keypoint_eval(coco_gt_file, results, get_keypoint_meta('coco'))['AP'] == \
        pytest.approx(1.0)
    assert [set(r) for r in results] == before


def test_ochuman_gt_is_perfect(ochuman_gt_file):
    gt = load_json(ochuman_gt_file)
    metrics = keypoint_eval(ochuman_gt_file, gt_as_results(gt), 'ochuman')
    assert metrics['AP'] == pytest.approx(1.0) and metrics['AR'] == pytest.approx(1.0)


def test_format_metrics_table():
    rows = {'merged': {'AP': 0.71234, 'AR': 0.5}, 'a | b': {'AP': 0.1, 'AR': 0.0004}}
    assert format_metrics_table(rows, first_column='Instances').splitlines() == [
        '| Instances | AP | AR |',
        '|---|---|---|',
        '| merged | 0.712 | 0.500 |',
        r'| a \| b | 0.100 | 0.000 |']


def test_format_metrics_table_prints_n_a_for_nothing_to_score_and_says_why():
    rows = {'merged': {'AP': 0.5, 'AP (L)': -1.0, 'AR (L)': -1.0},
            'instance 0': {'AP': 0.4, 'AP (L)': -1.0, 'AR (L)': -1.0}}
    assert format_metrics_table(rows).splitlines()[2:] == ['| merged | 0.500 | n/a | n/a |',
                                                         '| instance 0 | 0.400 | n/a | n/a |']
    note = metrics_table_note(rows)
    assert note.startswith('n/a: ') and 'AP (L): no person of large area' in note
    assert 'AR (L)' in note and 'AP:' not in note
    assert 'crowd index 0.8 or more' in metrics_table_note({'m': {'AP (H)': -1}}, 'crowdpose')
    assert metrics_table_note({'m': {'AP': 0.0}}) == ''


def test_format_metrics_table_refuses_rows_that_do_not_fit_the_header():
    with pytest.raises(ValueError, match="row 'x' has metrics \\['AP'\\], expected \\['AP', 'AR'\\]"):
        format_metrics_table({'m': {'AP': 0.1, 'AR': 0.2}, 'x': {'AP': 0.3}})
    with pytest.raises(ValueError, match='no rows'):
        format_metrics_table({})
