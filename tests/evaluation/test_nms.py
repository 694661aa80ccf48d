"""OKS IoU and OKS-NMS on hand-built poses."""
import numpy as np
import pytest

from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation import oks_iou, oks_nms, soft_oks_nms

COCO_SIGMAS = get_keypoint_meta('coco').sigmas_array
AREA = 100.0 * 200.0


def pose(offset=(0.0, 0.0), conf=0.9, num_joints=17):
    base = np.stack([np.linspace(100, 180, num_joints), np.linspace(50, 250, num_joints)], 1)
    kpts = np.concatenate([base + np.asarray(offset), np.full((num_joints, 1), conf)], 1)
    return kpts


def entry(kpts, score, area=AREA):
    return {'keypoints': kpts, 'score': score, 'area': area}


def hand_oks(d, area_g, area_d, sigmas=COCO_SIGMAS):
    """OKS of two poses whose joints are all d pixels apart."""
    vars_ = (2 * sigmas) ** 2
    return float(np.mean(np.exp(-d ** 2 / vars_ / ((area_g + area_d) / 2 + np.spacing(1)) / 2)))


def test_oks_iou_values():
    g = pose()
    d = np.stack([pose(), pose((3.0, 4.0)), pose((300.0, 0.0))])
    ious = oks_iou(g, d, AREA, np.array([AREA, AREA, AREA]))
    assert ious[0] == pytest.approx(1.0)
    assert ious[1] == pytest.approx(hand_oks(5.0, AREA, AREA))
    assert ious[2] < 1e-6
    # areas enter as their mean; flat (3J,) layout accepted
    ious = oks_iou(g.reshape(-1), d[1].reshape(1, -1), AREA, [3 * AREA])
    assert ious[0] == pytest.approx(hand_oks(5.0, AREA, 3 * AREA))


def test_identical_poses_suppressed_distant_kept_in_score_order():
    db = [entry(pose(), 0.5), entry(pose(), 0.9), entry(pose((400, 0)), 0.7),
          entry(pose((0.5, 0)), 0.6)]
    assert oks_nms(db, 0.9) == [1, 2]
    # flat keypoint lists work as well
    flat = [dict(e, keypoints=e['keypoints'].reshape(-1).tolist()) for e in db]
    assert oks_nms(flat, 0.9) == [1, 2]
    assert oks_nms([], 0.9) == []


def test_threshold_decides_partial_overlap():
    d = 10.0
    oks = hand_oks(d, AREA, AREA)
    assert 0.3 < oks < 0.9
    db = [entry(pose(), 0.9), entry(pose((d, 0)), 0.8)]
    assert oks_nms(db, oks - 0.01) == [0]  # OKS > thresh -> suppressed
    assert oks_nms(db, oks + 0.01) == [0, 1]
    # equal scores keep the input order
    tied = [entry(pose((400, 0)), 0.5), entry(pose(), 0.5)]
    assert oks_nms(tied, 0.5) == [0, 1]


def test_in_vis_thre_excludes_low_confidence_joints():
    a = pose(conf=0.9)
    b = pose(conf=0.9)
    b[:8, :2] += 200.0  # first 8 joints far away, but not confident
    b[:8, 2] = 0.05
    db = [entry(a, 0.9), entry(b, 0.8)]
    # all joints: OKS ~ 9/17 -> kept at 0.9
    assert oks_iou(a, b[None], AREA, [AREA])[0] == pytest.approx(9 / 17, abs=1e-6)
    assert oks_nms(db, 0.9) == [0, 1]
    # only confident joints: identical -> OKS 1 -> suppressed
    assert oks_iou(a, b[None], AREA, [AREA], in_vis_thre=0.2)[0] == pytest.approx(1.0)
    assert oks_nms(db, 0.9, in_vis_thre=0.2) == [0]
    # no joint above the threshold -> OKS 0 -> kept
    assert oks_nms(db, 0.9, in_vis_thre=0.95) == [0, 1]


def test_sigmas_must_fit_the_layout():
    db = [entry(pose(num_joints=14), 0.9), entry(pose(num_joints=14), 0.8)]
    with pytest.raises(ValueError, match='sigmas'):
        oks_nms(db, 0.9)
    assert oks_nms(db, 0.9, sigmas='crowdpose') == [0]
    assert oks_nms(db, 0.9, sigmas=get_keypoint_meta('crowdpose').sigmas) == [0]


def test_soft_oks_nms_gaussian_decay():
    db = [entry(pose(), 0.9), entry(pose(), 0.8), entry(pose((400, 0)), 0.5)]
    keep, scores = soft_oks_nms(db, 0.3, return_scores=True)
    # the duplicate is decayed by exp(-1 / 0.3) = 0.0357 * 0.8, below the distant pose
    assert keep == [0, 2, 1]
    np.testing.assert_allclose(scores, [0.9, 0.5, 0.8 * np.exp(-1.0 / 0.3)])
    assert soft_oks_nms(db, 0.3) == [0, 2, 1]
    assert soft_oks_nms(db, 0.3, max_dets=2) == [0, 2]
    # linear decay: s * (1 - oks) for oks >= thresh -> the duplicate drops to 0
    keep, scores = soft_oks_nms(db, 0.3, method='linear', return_scores=True)
    assert keep == [0, 2, 1]
    np.testing.assert_allclose(scores, [0.9, 0.5, 0.0], atol=1e-12)
    assert soft_oks_nms([], 0.3) == []
