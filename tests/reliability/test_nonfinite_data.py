"""Non-finite numbers in ground truth, detections or predictions are never scored (issue 17,
item 2): a NaN OKS used to count as a match (``NaN < threshold`` is False in pycocotools), so
a NaN ground-truth joint or an absurd detection box raised AP; NaN keypoints were written to
the results JSON; boxes of negative width were kept as zero-width boxes."""
import copy
import json
import math

import numpy as np

from mipnet.evaluation import keypoint_eval

from ._helpers import FIXTURES, TINY, assert_one_error, coco_opts, run_dir, run_in_process
from .test_bad_inputs import _det_file, _edit, data, model_file  # noqa: F401 (fixtures)


def _gt():
    return json.loads((FIXTURES / 'coco' / 'test_coco.json').read_text())


def _shifted_results(gt, dx):
    """One result per labelled person: its ground-truth pose moved ``dx`` px right."""
    results = []
    for ann in gt['annotations']:
        if ann['num_keypoints'] == 0:
            continue
        kpts = np.asarray(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
        kpts[:, 0] += dx
        kpts[:, 2] = 1.0
        results.append({'image_id': ann['image_id'], 'category_id': 1,
                        'keypoints': kpts.reshape(-1).tolist(), 'score': 0.9})
    return results


def test_nan_ground_truth_joint_scores_as_unlabelled_joint():
    gt = _gt()
    results = _shifted_results(gt, 40.0)       # far off: AP 0 on the clean ground truth
    ann = next(a for a in gt['annotations'] if a['num_keypoints'] > 0)
    spoiled = copy.deepcopy(gt)
    spoiled['annotations'][gt['annotations'].index(ann)]['keypoints'][0] = float('nan')
    # The clean value: the same joint marked unlabelled (0, 0, 0).
    clean = copy.deepcopy(gt)
    target = clean['annotations'][gt['annotations'].index(ann)]
    target['keypoints'][:3] = [0, 0, 0]
    target['num_keypoints'] -= 1
    expected = keypoint_eval(clean, results)
    got = keypoint_eval(spoiled, results)
    assert expected['AP'] == 0.0
    assert got == expected
    # A perfect prediction still matches its person (only the NaN joint is left out).
    exact = _shifted_results(gt, 0.0)
    assert keypoint_eval(spoiled, exact) == keypoint_eval(clean, exact)
    assert keypoint_eval(spoiled, exact)['AP'] > 0.9


def test_nan_result_is_left_out_not_scored(caplog):
    gt = _gt()
    results = _shifted_results(gt, 40.0)
    spoiled = copy.deepcopy(results) + [dict(copy.deepcopy(results[0]),
                                             keypoints=[float('nan')] * 51, score=1.0)]
    assert keypoint_eval(gt, spoiled) == keypoint_eval(gt, results)
    assert '1 of 13 results have non-finite keypoints or score' in caplog.text


def test_absurd_detection_box_gives_no_nan_result_and_same_ap(tmp_path, data, model_file):
    """Box [1, 1, 1e308, 1e308]: its center and scale overflow float32; the box is skipped and
    counted, no NaN reaches the results JSON and AP equals that of the detections without it."""
    image_dir, ann_file = data
    image_id = json.loads(ann_file.read_text())['images'][0]['id']
    absurd = {'image_id': image_id, 'category_id': 1, 'bbox': [1, 1, 1e308, 1e308],
              'score': 1.0}
    metrics = {}
    for name, edit in (('clean', lambda d: None), ('absurd', lambda d: d.append(absurd))):
        det = _det_file(tmp_path, edit)
        out = tmp_path / name
        result = run_in_process('test', ['--cfg', TINY, *coco_opts(out, image_dir, ann_file),
                                         'TEST.MODEL_FILE', model_file,
                                         'TEST.USE_GT_BBOX', 'False',
                                         'TEST.COCO_BBOX_FILE', det])
        assert result.returncode == 0, result.stderr[-3000:]
        folder = run_dir(out)
        for path in (folder / 'results').glob('*.json'):
            values = [v for r in json.loads(path.read_text()) for v in r['keypoints']]
            assert values and all(math.isfinite(v) for v in values), path
        metrics[name] = json.loads((folder / 'metrics_val.json').read_text())
        if name == 'absurd':
            assert '1 non-finite box' in result.stdout
    assert metrics['absurd'] == metrics['clean']


def test_nan_poses_are_left_out_of_merged_results(caplog):
    """The last line of defence: whatever produced a non-finite pose, rescore_and_merge drops
    it before NMS (a NaN score would also disorder the NMS) and says how many."""
    from mipnet.evaluation.postprocess import rescore_and_merge
    rng = np.random.default_rng(0)
    preds = rng.uniform(0, 100, (4, 17, 2))
    maxvals = rng.uniform(0.5, 1, (4, 17, 1))
    args = dict(scales=np.ones((4, 2)), box_scores=np.ones(4), image_ids=np.array([1, 1, 2, 2]))
    clean = rescore_and_merge(preds[[0, 2, 3]], maxvals[[0, 2, 3]], **{
        k: v[[0, 2, 3]] for k, v in args.items()})
    preds[1, 5, 0] = np.nan
    got = rescore_and_merge(preds, maxvals, **args)
    assert got == clean and len(got) == 3
    assert '1 of 4 poses have non-finite keypoints' in caplog.text


def test_negative_width_boxes_are_dropped_not_kept(tmp_path, data):
    image_dir, ann_file = data

    def spoil(d):
        for ann in d['annotations']:
            ann['bbox'][2] = -abs(ann['bbox'][2]) - 1
    _edit(ann_file, spoil)
    result = run_in_process('train', ['--cfg', TINY, *coco_opts(tmp_path, image_dir, ann_file),
                                      'TRAIN.END_EPOCH', 1])
    assert_one_error(result, str(ann_file), 'has no usable person box')


def test_nan_training_joint_is_unlabelled_and_training_stays_finite(tmp_path, data):
    image_dir, ann_file = data
    _edit(ann_file, lambda d: d['annotations'][0]['keypoints'].__setitem__(0, float('nan')))
    result = run_in_process('train', ['--cfg', TINY, *coco_opts(tmp_path, image_dir, ann_file),
                                      'TRAIN.END_EPOCH', 1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'skipped 2 no keypoints, 1 non-finite keypoints (joints unlabelled)' in result.stdout
