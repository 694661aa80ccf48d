"""Multi-instance rescoring and per-image OKS-NMS merging."""
import numpy as np
import pytest

from mipnet.config import get_cfg
from mipnet.data.transforms import box_to_center_scale
from mipnet.evaluation import (keypoint_eval, postprocess_options_from_cfg, rescore,
                               rescore_and_merge)
from mipnet.evaluation.postprocess import nms_areas
from mipnet.evaluation.nms import oks_iou

from ._helpers import load_json

J = 17


def person(offset_x, offset_y=0.0):
    """(J, 2) pose: a vertical chain of joints shifted by the offset."""
    return np.stack([np.linspace(100, 160, J) + offset_x, np.linspace(50, 250, J) + offset_y], 1)


P, Q, R = person(0), person(60), person(300)
SCALE = [0.5, 1.0]  # box 100 x 200 px -> NMS area 20000


def scene():
    """Image 1: box A (0.9) sees P then Q, box B (0.8) sees Q then P. Image 2: box C
    (0.7) sees P then R. All joint confidences 0.8."""
    preds = np.stack([P, Q, Q, P, P, R])
    return dict(
        preds=preds,
        maxvals=np.full((6, J, 1), 0.8),
        scales=np.tile(SCALE, (6, 1)),
        box_scores=np.array([0.9, 0.9, 0.8, 0.8, 0.7, 0.7]),
        image_ids=np.array([1, 1, 1, 1, 2, 2]),
        instance_ids=np.array([0, 1, 0, 1, 0, 1]),
    )


def summary(results):
    return [(r['image_id'], r['instance'], round(r['score'], 6), r['keypoints'][0])
            for r in results]


def test_rescore_values():
    maxvals = np.array([[0.9, 0.1, 0.5], [0.9, 0.1, 0.5], [0.1, 0.1, 0.1]])[..., None]
    scores = rescore(maxvals, [0.8, 0.8, 0.8], [0, 1, 0], in_vis_thre=0.2, decay=0.5)
    np.testing.assert_allclose(scores, [0.8 * 0.7, 0.8 * 0.7 * 0.5, 0.0])
    np.testing.assert_allclose(rescore(maxvals, [1, 1, 1]), [0.5, 0.5, 0.1])


def test_options_from_cfg():
    cfg = get_cfg()
    cfg.defrost()
    cfg.TEST.DECAY_THRE = 0.25
    cfg.TEST.SOFT_NMS = True
    opts = postprocess_options_from_cfg(cfg)
    assert opts == {'in_vis_thre': cfg.TEST.IN_VIS_THRE, 'decay': 0.25,
                    'oks_thre': cfg.TEST.OKS_THRE, 'soft_nms': True, 'nms_area': 'box'}
    rescore_and_merge(**scene(), **opts)  # the options are valid keyword arguments


def test_merge_suppresses_cross_instance_duplicates():
    res = rescore_and_merge(**scene(), in_vis_thre=0.2, decay=0.5, oks_thre=0.5)
    # image 1: P (A, inst 0, .72) and Q (B, inst 0, .64); their secondary copies (.36, .32)
    # are suppressed. Image 2 is separate: its P is kept, R (inst 1, .28) too.
    assert summary(res) == [(1, 0, 0.72, 100.0), (1, 0, 0.64, 160.0),
                            (2, 0, 0.56, 100.0), (2, 1, 0.28, 400.0)]
    r = res[0]
    assert set(r) == {'image_id', 'category_id', 'keypoints', 'score', 'instance'}
    assert r['category_id'] == 1 and len(r['keypoints']) == 3 * J
    np.testing.assert_allclose(np.reshape(r['keypoints'], (J, 3)),
                               np.concatenate([P, np.full((J, 1), 0.8)], 1))
    assert isinstance(r['image_id'], int) and isinstance(r['keypoints'][0], float)


def test_decay_decides_which_duplicate_survives():
    # no decay: Q from box A's second instance (.72) beats Q from box B's first (.64)
    res = rescore_and_merge(**scene(), in_vis_thre=0.2, decay=1.0, oks_thre=0.5)
    assert summary(res)[:2] == [(1, 0, 0.72, 100.0), (1, 1, 0.72, 160.0)]


def test_instance_subsets():
    only0 = rescore_and_merge(**scene(), decay=0.5, oks_thre=0.5, instances=[0])
    assert summary(only0) == [(1, 0, 0.72, 100.0), (1, 0, 0.64, 160.0), (2, 0, 0.56, 100.0)]
    only1 = rescore_and_merge(**scene(), decay=0.5, oks_thre=0.5, instances=[1])
    assert summary(only1) == [(1, 1, 0.36, 160.0), (1, 1, 0.32, 100.0), (2, 1, 0.28, 400.0)]
    assert rescore_and_merge(**scene(), instances=[5]) == []
    res, rows = rescore_and_merge(**scene(), decay=0.5, oks_thre=0.5, instances=[1],
                                  return_indices=True)
    assert rows.tolist() == [1, 3, 5] and res == only1


def test_soft_nms_keeps_duplicates_with_original_scores():
    res = rescore_and_merge(**scene(), decay=0.5, oks_thre=0.5, soft_nms=True)
    assert [s[1:3] for s in summary(res) if s[0] == 1] == [(0, 0.72), (0, 0.64), (1, 0.36),
                                                           (1, 0.32)]


def test_nms_area_is_the_box_area():
    # the same person twice, 10 px apart: OKS grows with the box area
    preds = np.stack([P, P + [10, 0]])
    common = dict(preds=preds, maxvals=np.ones((2, J)), box_scores=[0.9, 0.8],
                  image_ids=[7, 7], oks_thre=0.5)
    big, small = np.array([2.0, 3.0]), np.array([0.2, 0.3])
    kpts = np.concatenate([preds, np.ones((2, J, 1))], 2)
    a_big, a_small = np.prod(big * 200), np.prod(small * 200)
    assert oks_iou(kpts[0], kpts[1:], a_big, [a_big])[0] > 0.5
    assert oks_iou(kpts[0], kpts[1:], a_small, [a_small])[0] < 0.5
    assert len(rescore_and_merge(scales=np.stack([big, big]), **common)) == 1
    assert len(rescore_and_merge(scales=np.stack([small, small]), **common)) == 2


def test_nms_area_of_the_pose():
    # P spans x 100..160 and y 50..250: its own area is 60 * 200 = 12000 px².
    np.testing.assert_allclose(nms_areas(np.stack([P, R]), np.tile(SCALE, (2, 1)), 'pose'),
                               [12000.0, 12000.0])
    np.testing.assert_allclose(nms_areas(np.stack([P]), [SCALE], 'box'), [20000.0])
    assert nms_areas(np.zeros((1, J, 2)), [SCALE], 'pose')[0] == 1.0  # collapsed pose
    with pytest.raises(ValueError, match="'visible'"):
        nms_areas(np.stack([P]), [SCALE], 'visible')
    # Two people 20 px apart inside one large padded box (400 x 600 px): the box's area
    # makes them duplicates, their own extent does not.
    preds = np.stack([P, P + [20, 0]])
    kpts = np.concatenate([preds, np.ones((2, J, 1))], 2)
    assert oks_iou(kpts[0], kpts[1:], 240000.0, [240000.0])[0] > 0.9
    assert oks_iou(kpts[0], kpts[1:], 12000.0, [12000.0])[0] < 0.9
    common = dict(preds=preds, maxvals=np.ones((2, J)), scales=[[2.0, 3.0]] * 2,
                  box_scores=[0.9, 0.8], image_ids=[7, 7], instance_ids=[0, 1], decay=1.0,
                  oks_thre=0.9)
    assert len(rescore_and_merge(**common)) == 1
    assert len(rescore_and_merge(**common, nms_area='pose')) == 2


def test_merge_on_real_coco_people(coco_gt_file):
    """Every annotated person of the COCO sample predicted twice: as instance 0 of its own
    box and as instance 1 of a neighbour's box (with higher joint confidence). OKS-NMS
    leaves one copy per person -> AP 1; without suppression the duplicates cost AP."""
    gt = load_json(coco_gt_file)
    people = [a for a in gt['annotations'] if a['num_keypoints'] > 0]
    by_image = {}
    for a in people:
        by_image.setdefault(a['image_id'], []).append(a)
    rows = []
    for image_id, anns in by_image.items():
        for i, a in enumerate(anns):
            kp = np.array(a['keypoints'], dtype=np.float64).reshape(J, 3)
            labelled = kp[:, 2] > 0
            kp[~labelled, :2] = kp[labelled, :2].mean(0)  # unlabelled joints: centroid
            _, scale = box_to_center_scale(*a['bbox'], aspect_ratio=0.75)
            conf = 0.5 + 0.4 * i / max(len(anns), 1)
            rows.append((kp[:, :2], conf, scale, image_id, 0))
            # the same person seen as the second instance of the next box of the image
            nb = anns[(i + 1) % len(anns)]
            _, nscale = box_to_center_scale(*nb['bbox'], aspect_ratio=0.75)
            rows.append((kp[:, :2], 0.7, nscale, image_id, 1))
    args = dict(
        preds=np.stack([r[0] for r in rows]),
        maxvals=np.stack([np.full((J, 1), r[1]) for r in rows]),
        scales=np.stack([r[2] for r in rows]),
        box_scores=np.ones(len(rows)),
        image_ids=[r[3] for r in rows],
        instance_ids=[r[4] for r in rows],
        in_vis_thre=0.2, decay=1.0)
    merged = rescore_and_merge(**args, oks_thre=0.9)
    assert len(merged) == len(people)
    assert keypoint_eval(coco_gt_file, merged, 'coco')['AP'] == pytest.approx(1.0)
    # OKS of exact duplicates is 1: threshold 1 suppresses nothing
    unmerged = rescore_and_merge(**args, oks_thre=1.0)
    assert len(unmerged) == 2 * len(people)
    assert keypoint_eval(coco_gt_file, unmerged, 'coco')['AP'] < 0.95
    # per instance: instance 1 alone still covers everyone here
    inst1 = rescore_and_merge(**args, oks_thre=0.9, instances=[1])
    assert keypoint_eval(coco_gt_file, inst1, 'coco')['AP'] == pytest.approx(1.0)
