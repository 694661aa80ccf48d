"""Occluded-subset AP/AR on a tiny hand-made ground truth.

Image 1 holds A and B, whose boxes overlap (IoU 4000 / 6000 = 2/3), and C, isolated.
Image 2 holds D alone. The occluded subset (IoU >= 0.5) is {A, B}. Every person's 17
keypoints are spread over a 12 x 15 px patch; different people are >= 40 px apart, so a
pose has OKS 1 with its own person and ~0 with everybody else.

COCO AP samples precision at the 101 recall points 0, .01, ..., 1: a precision of 1 up to
recall 1/2 and none beyond gives AP = 51 / 101; up to recall 3/4, 76 / 101.
"""
import numpy as np
import pytest

from mipnet.evaluation import keypoint_eval
from mipnet.evaluation.subsets import (crowd_error_rate, crowd_merged_boxes, occluded_ann_ids,
                                       occluded_keypoint_eval, subset_keypoint_eval)

A, B, C, D = 1, 2, 3, 4
ORIGIN = {A: (20, 20), B: (20, 70), C: (130, 20), D: (30, 30)}
BOXES = {A: [10, 10, 50, 100], B: [20, 10, 50, 100], C: [120, 10, 50, 100],
         D: [10, 10, 50, 100]}
IMAGE = {A: 1, B: 1, C: 1, D: 2}


def _pose(x0, y0, v=2):
    j = np.arange(17)
    return np.stack([x0 + 3.0 * (j % 5), y0 + 5.0 * (j // 5), np.full(17, v)], axis=1)


def _gt(boxes=BOXES, crowdpose=False):
    joints = 14 if crowdpose else 17
    anns = [{'id': i, 'image_id': IMAGE[i], 'category_id': 1, 'iscrowd': 0,
             'bbox': list(boxes[i]), 'area': 2000.0, 'num_keypoints': joints,
             'keypoints': _pose(*ORIGIN[i])[:joints].reshape(-1).tolist()}
            for i in (A, B, C, D)]
    images = [{'id': 1, 'width': 200, 'height': 200, 'crowdIndex': 0.5},
              {'id': 2, 'width': 200, 'height': 200, 'crowdIndex': 0.0}]
    return {'images': images, 'annotations': anns,
            'categories': [{'id': 1, 'name': 'person'}]}


def _pred(person, score, joints=17):
    return {'image_id': IMAGE[person], 'category_id': 1, 'score': score,
            'keypoints': _pose(*ORIGIN[person], v=1)[:joints].reshape(-1).tolist()}


def _false_positive(score):
    """A pose in image 1 far from everybody."""
    return {'image_id': 1, 'category_id': 1, 'score': score,
            'keypoints': _pose(150, 150, v=1).reshape(-1).tolist()}


def test_occluded_ids_pairs_in_the_same_image_only():
    assert occluded_ann_ids(_gt()) == {A, B}
    # D has A's box but lives in another image: not a pair.
    assert occluded_ann_ids(_gt(), iou_thre=0.7) == set()  # 2/3 < 0.7
    # crowd regions and other categories are not occluders
    gt = _gt()
    gt['annotations'].append(dict(gt['annotations'][2], id=9, iscrowd=1, bbox=BOXES[C]))
    assert occluded_ann_ids(gt) == {A, B}


def test_crowd_merged_boxes_by_hand():
    gt = _gt()
    # A and B overlap with IoU 2/3: only one keeps its box. Equal areas: the lower id (A).
    boxes = crowd_merged_boxes(gt)
    assert [(b['image_id'], b['bbox']) for b in boxes] == [(1, BOXES[A]), (1, BOXES[C]),
                                                           (2, BOXES[D])]
    assert all(b['score'] == 1.0 and b['category_id'] == 1 for b in boxes)
    # The more visible person keeps the box.
    gt['annotations'][1]['area'] = 3000.0
    assert [b['bbox'] for b in crowd_merged_boxes(gt)][:2] == [BOXES[B], BOXES[C]]
    # Below the IoU threshold both stay; crowd regions and empty boxes never get one.
    assert len(crowd_merged_boxes(gt, iou_thre=0.7)) == 4
    gt['annotations'].append(dict(gt['annotations'][2], id=9, iscrowd=1))
    gt['annotations'].append(dict(gt['annotations'][2], id=10, bbox=[5, 5, 0, 10]))
    assert len(crowd_merged_boxes(gt, iou_thre=0.7)) == 4


def test_missed_occluded_person_halves_subset_recall():
    # A, C and D found, B (occluded) missed.
    results = [_pred(A, 0.9), _pred(C, 0.8), _pred(D, 0.7)]
    full = keypoint_eval(_gt(), results, 'coco')
    assert full['AR'] == pytest.approx(3 / 4)
    assert full['AP'] == pytest.approx(76 / 101)
    sub = occluded_keypoint_eval(_gt(), results, 'coco')
    assert sub['num_gt'] == 2
    assert sub['AR'] == pytest.approx(1 / 2)
    assert sub['AR .5'] == pytest.approx(1 / 2)
    # C and D are matched to ignored people: neither true nor false positives.
    assert sub['AP'] == pytest.approx(51 / 101)
    assert sub['AP .5'] == pytest.approx(51 / 101)


def test_both_occluded_people_found():
    results = [_pred(A, 0.9), _pred(B, 0.6), _pred(C, 0.8)]
    sub = occluded_keypoint_eval(_gt(), results, 'coco')
    assert sub['AR'] == pytest.approx(1.0)
    assert sub['AP'] == pytest.approx(1.0)


def test_unmatched_detection_is_a_false_positive_of_the_subset():
    # Ranked above A, the stray pose halves the precision at A's recall.
    results = [_false_positive(0.95), _pred(A, 0.9), _pred(C, 0.8)]
    sub = occluded_keypoint_eval(_gt(), results, 'coco')
    assert sub['AR'] == pytest.approx(1 / 2)
    assert sub['AP'] == pytest.approx(0.5 * 51 / 101)
    # Ranked below A it costs nothing (precision is interpolated from the right).
    sub = occluded_keypoint_eval(_gt(), [_pred(A, 0.9), _false_positive(0.5)], 'coco')
    assert sub['AP'] == pytest.approx(51 / 101)


def test_duplicate_of_an_ignored_person_is_a_false_positive():
    # C is matched (ignored) by its best pose; its duplicate matches nobody.
    results = [_pred(C, 0.9), _pred(C, 0.8), _pred(A, 0.5)]
    sub = occluded_keypoint_eval(_gt(), results, 'coco')
    assert sub['AP'] == pytest.approx(0.5 * 51 / 101)
    assert sub['AR'] == pytest.approx(1 / 2)


def test_explicit_subset_and_empty_subset():
    results = [_pred(A, 0.9), _pred(C, 0.8)]
    sub = subset_keypoint_eval(_gt(), results, 'coco', ann_ids={C, D})
    assert sub['num_gt'] == 2
    assert sub['AR'] == pytest.approx(1 / 2)
    assert sub['AP'] == pytest.approx(51 / 101)
    far = {A: [0, 0, 10, 10], B: [100, 100, 10, 10], C: [150, 0, 10, 10], D: BOXES[D]}
    sub = occluded_keypoint_eval(_gt(far), results, 'coco')
    assert sub['num_gt'] == 0
    assert sub['AP'] == -1 and sub['AR'] == -1


def test_subset_eval_leaves_the_ground_truth_untouched():
    gt = _gt()
    occluded_keypoint_eval(gt, [_pred(A, 0.9)], 'coco')
    assert all('ignore' not in a for a in gt['annotations'])
    # and the full evaluation afterwards is unaffected
    assert keypoint_eval(gt, [_pred(A, 0.9), _pred(C, 0.8)], 'coco')['AR'] == \
        pytest.approx(2 / 4)


def test_crowdpose_protocol():
    results = [_pred(A, 0.9, joints=14), _pred(C, 0.8, joints=14)]
    sub = occluded_keypoint_eval(_gt(crowdpose=True), results, 'crowdpose')
    assert sub['num_gt'] == 2
    assert sub['AR'] == pytest.approx(1 / 2)
    assert sub['AP'] == pytest.approx(51 / 101)


def _shifted(person, score, dx):
    rec = _pred(person, score)
    k = np.asarray(rec['keypoints']).reshape(-1, 3)
    k[:, 0] += dx
    rec['keypoints'] = k.reshape(-1).tolist()
    return rec


def test_best_oks_per_person_by_hand():
    from mipnet.data.metadata import COCO
    from mipnet.evaluation.subsets import best_oks_per_person
    # B's pose 3 px to the right: OKS = mean_j exp(-9 / (2 * area * (2 sigma_j)^2)).
    expected_b = float(np.mean(np.exp(-9.0 / (2 * 2000.0 * (2 * COCO.sigmas_array) ** 2))))
    results = [_pred(A, 0.9), _shifted(B, 0.8, 3.0), _pred(A, 0.3)]
    best = best_oks_per_person(_gt(), results)
    assert set(best) == {A, B, C, D}
    assert best[A] == pytest.approx(1.0)
    assert best[B] == pytest.approx(expected_b, rel=1e-9) and 0.5 < best[B] < 1
    assert best[C] < 1e-6  # other people's poses are > 40 px away
    assert best[D] == 0.0  # no result in its image
    # Only the max_dets best-scored results of an image count (COCO's AR rule).
    assert best_oks_per_person(_gt(), results, max_dets=1)[B] < 1e-6


def test_person_oks_by_hand():
    from mipnet.data.metadata import COCO
    from mipnet.evaluation.subsets import person_oks
    person = _gt()['annotations'][0]  # A, area 2000, all 17 joints labelled
    exact = _pose(*ORIGIN[A])[None]
    shifted = exact.copy()
    shifted[..., 0] += 3.0
    expected = float(np.mean(np.exp(-9.0 / (2 * 2000.0 * (2 * COCO.sigmas_array) ** 2))))
    assert person_oks(np.concatenate([exact, shifted]), person, COCO.sigmas_array) == \
        pytest.approx([1.0, expected], rel=1e-9)
    # Unlabelled joints do not count: a wrong joint 0 is ignored once v = 0.
    wrong = exact.copy()
    wrong[0, 0, 0] += 50.0
    unlabelled = dict(person, keypoints=_pose(*ORIGIN[A]).copy())
    unlabelled['keypoints'][0, 2] = 0
    unlabelled['keypoints'] = unlabelled['keypoints'].reshape(-1).tolist()
    assert person_oks(wrong, person, COCO.sigmas_array)[0] < 0.95
    assert person_oks(wrong, unlabelled, COCO.sigmas_array)[0] == pytest.approx(1.0)


def test_box_outcomes_counts_the_crowd_error():
    from mipnet.evaluation.subsets import box_outcomes
    far = _pose(150, 150)[:, :2]

    def poses(*origins):
        return np.stack([_pose(*o)[:, :2] if o is not None else far for o in origins])

    # Image 1: A's box shows A (instance 0) and B (instance 1); B's box shows A (the crowd
    # error) and nobody; C's box shows nobody. Image 2: D's box shows D.
    ann_ids = [A, B, C, D]
    keypoints = np.stack([poses(ORIGIN[A], ORIGIN[B]), poses(ORIGIN[A], None),
                          poses(None, None), poses(ORIGIN[D], None)])
    out = box_outcomes(_gt(), ann_ids, keypoints)
    assert out == {'people': 4, 'own': 2, 'other': 1, 'found': 3}  # A, D own; B other
    # B is still found (by instance 1 of A's box); restricted to the occluded pair:
    assert box_outcomes(_gt(), ann_ids, keypoints, subset={A, B}) == \
        {'people': 2, 'own': 1, 'other': 1, 'found': 2}
    # A one-instance model that makes the same crowd error misses B altogether.
    assert box_outcomes(_gt(), ann_ids, keypoints[:, :1], subset={A, B}) == \
        {'people': 2, 'own': 1, 'other': 1, 'found': 1}
    # People without a box still count, as not found (here D, the only person of image 2).
    assert box_outcomes(_gt(), ann_ids[:3], keypoints[:3]) == \
        {'people': 4, 'own': 1, 'other': 1, 'found': 2}
    with pytest.raises(ValueError, match='4 boxes'):
        box_outcomes(_gt(), ann_ids, keypoints[:3])
    # The crowd-error rate: B's box shows A, one of the four people (one of the pair).
    assert crowd_error_rate(out) == 0.25
    assert crowd_error_rate(box_outcomes(_gt(), ann_ids, keypoints, subset={A, B})) == 0.5
    assert np.isnan(crowd_error_rate(box_outcomes(_gt(), ann_ids, keypoints, subset=set())))


def test_second_instance_finds_by_hand():
    from mipnet.evaluation.subsets import second_instance_finds
    first = [_pred(A, 0.9), _pred(C, 0.8)]
    # B only by the second instance; A found by both; D by the second instance with a
    # score under the threshold (not drawn, so not counted).
    second = [_pred(A, 0.7), _pred(B, 0.6), _pred(D, 0.1)]
    assert second_instance_finds(_gt(), first, second, score_thre=0.2) == {1: [B]}
    assert second_instance_finds(_gt(), first, second) == {1: [B], 2: [D]}
    # B's second-instance pose 12 px off: OKS < 0.5, found by nobody.
    assert second_instance_finds(_gt(), first, [_shifted(B, 0.6, 12.0)]) == {}
    assert second_instance_finds(_gt(), [], []) == {}
