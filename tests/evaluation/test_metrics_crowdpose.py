"""The official CrowdPose protocol on the real CrowdPose sample and on a subset of the
official val annotations, with predictions built so that the expected numbers are known."""
import copy

import numpy as np
import pytest

from mipnet.evaluation import (CROWDPOSE_METRIC_NAMES, CROWDPOSE_SIGMAS, CrowdPoseCOCOeval,
                               keypoint_eval, load_coco)
from mipnet.evaluation.metrics import quiet_pycocotools

from ._helpers import gt_as_results, load_json

RECALL_THRESHOLDS = np.linspace(0, 1, 101)
PER_SPLIT = 40  # images per crowd split in the val subset


def official_oks(gt_kpts, bbox, dt_kpts, area_factor=0.53):
    """crowdposetools computeOks for one visible-keypoint gt / detection pair."""
    g = np.asarray(gt_kpts, dtype=np.float64).reshape(-1, 3)
    d = np.asarray(dt_kpts, dtype=np.float64).reshape(-1, 3)
    vis = g[:, 2] > 0
    area = bbox[2] * bbox[3] * area_factor
    e = ((d[:, :2] - g[:, :2]) ** 2).sum(1) / (2 * CROWDPOSE_SIGMAS) ** 2 / \
        (area + np.spacing(1)) / 2
    return float(np.mean(np.exp(-e[vis])))


def splits_of(dataset):
    easy, mid, hard = [], [], []
    for img in dataset['images']:
        ci = img['crowdIndex']
        (easy if ci < 0.2 else mid if ci < 0.8 else hard).append(img['id'])
    return easy, mid, hard


@pytest.fixture(scope='module')
def val_subset(crowdpose_val):
    """PER_SPLIT images of each crowd split (lowest ids), with their annotations."""
    keep = set()
    for ids in splits_of(crowdpose_val):
        keep.update(sorted(ids)[:PER_SPLIT])
    return {
        'images': [i for i in crowdpose_val['images'] if i['id'] in keep],
        'annotations': [a for a in crowdpose_val['annotations'] if a['image_id'] in keep],
        'categories': crowdpose_val['categories'],
    }


def n_valid(dataset, image_ids):
    return len(gt_as_results(dataset, set(image_ids)))


def test_sample_gt_is_perfect(crowdpose_gt_file):
    gt = load_json(crowdpose_gt_file)
    metrics = keypoint_eval(crowdpose_gt_file, gt_as_results(gt), 'crowdpose')
    assert list(metrics) == list(CROWDPOSE_METRIC_NAMES)
    for name in ('AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75', 'AP (M)'):
        assert metrics[name] == pytest.approx(1.0), name
    # both images have crowdIndex in [0.2, 0.8): the other splits are empty -> -1
    assert metrics['AP (E)'] == -1.0 and metrics['AP (H)'] == -1.0


def test_oks_uses_053_box_area_and_crowdpose_sigmas(crowdpose_gt_file):
    """Shift one person so its official OKS (area 0.53 w h) is 0.66: a match at IoU .50 to
    .65 only. With the plain box area w h its OKS would pass .75 - so AP .75 tells."""
    gt = load_json(crowdpose_gt_file)
    results = gt_as_results(gt)
    idx = next(i for i, r in enumerate(results) if r['image_id'] == 103319)
    ann = next(a for a in gt['annotations'] if a['image_id'] == 103319)
    kp = np.array(ann['keypoints'], dtype=np.float64).reshape(-1, 3)

    def shifted(d):
        out = kp.copy()
        out[:, 1] += d
        return out

    lo, hi = 0.0, 500.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if official_oks(kp, ann['bbox'], shifted(mid)) > 0.66 else (lo, mid)
    moved = shifted((lo + hi) / 2)
    assert official_oks(kp, ann['bbox'], moved, area_factor=1.0) > 0.76
    results[idx] = dict(results[idx], keypoints=moved.reshape(-1).tolist(), score=0.5)
    n = len(results)
    assert n == 4
    fail_ap = np.sum(RECALL_THRESHOLDS <= (n - 1) / n) / 101
    metrics = keypoint_eval(crowdpose_gt_file, results, 'crowdpose')
    assert metrics['AP .5'] == pytest.approx(1.0)
    assert metrics['AP .75'] == pytest.approx(fail_ap)
    assert metrics['AP'] == pytest.approx((4 + 6 * fail_ap) / 10)
    assert metrics['AR'] == pytest.approx((4 + 6 * (n - 1) / n) / 10)
    assert metrics['AP (M)'] == round((4 + 6 * fail_ap) / 10, 4)


def test_val_subset_gt_is_perfect_per_split(val_subset):
    metrics = keypoint_eval(val_subset, gt_as_results(val_subset), 'crowdpose')
    for name, value in metrics.items():
        assert value == pytest.approx(1.0), name


def test_val_subset_missing_split(val_subset):
    easy, mid, hard = splits_of(val_subset)
    results = gt_as_results(val_subset, set(easy) | set(mid))
    metrics = keypoint_eval(val_subset, results, 'crowdpose')
    assert metrics['AP (H)'] == 0.0
    assert metrics['AP (E)'] == 1.0 and metrics['AP (M)'] == 1.0
    total = n_valid(val_subset, easy + mid + hard)
    assert metrics['AR'] == pytest.approx(len(results) / total)
    assert metrics['AP'] < 1.0


def test_val_subset_half_of_a_split_missing(val_subset):
    easy, mid, hard = splits_of(val_subset)
    easy_people = gt_as_results(val_subset, set(easy))
    kept_easy = easy_people[::2]
    results = kept_easy + gt_as_results(val_subset, set(mid) | set(hard))
    metrics = keypoint_eval(val_subset, results, 'crowdpose')
    recall_easy = len(kept_easy) / len(easy_people)
    expected_easy = round(np.sum(RECALL_THRESHOLDS <= recall_easy) / 101, 4)
    assert metrics['AP (E)'] == expected_easy
    assert metrics['AP (M)'] == 1.0 and metrics['AP (H)'] == 1.0
    total = n_valid(val_subset, easy + mid + hard)
    missing = len(easy_people) - len(kept_easy)
    assert metrics['AR'] == pytest.approx((total - missing) / total)
    assert metrics['AR .5'] == pytest.approx((total - missing) / total)


def test_empty_results_are_zero(val_subset):
    metrics = keypoint_eval(val_subset, [], 'crowdpose')
    assert all(v == 0.0 for v in metrics.values()), metrics


def test_unknown_image_ids_are_named(crowdpose_gt_file):
    gt = load_json(crowdpose_gt_file)
    bad = gt_as_results(gt)[:1] + [dict(gt_as_results(gt)[0], image_id=42)]
    with pytest.raises(ValueError, match=r'not in the ground truth: 42'):
        keypoint_eval(crowdpose_gt_file, bad, 'crowdpose')


def noisy_results(dataset, seed=0):
    """Jittered gt poses with random scores, some people dropped, some false positives."""
    rng = np.random.default_rng(seed)
    out = []
    for r in gt_as_results(dataset):
        if rng.random() < 0.15:
            continue
        kp = np.array(r['keypoints'], dtype=np.float64).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, rng.uniform(1, 12), (len(kp), 2))
        out.append(dict(r, keypoints=kp.reshape(-1).tolist(), score=float(rng.random())))
        if rng.random() < 0.2:  # a false positive far away
            fp = kp.copy()
            fp[:, :2] += 400
            out.append(dict(r, keypoints=fp.reshape(-1).tolist(), score=float(rng.random())))
    return out


def test_split_scores_match_official_reevaluation(val_subset):
    """AP (E/M/H) reuse the per-image matching; the official code re-runs evaluate() on
    each split. Both must agree exactly; the OKS matrix must be the official formula."""
    results = noisy_results(val_subset)
    metrics = keypoint_eval(val_subset, results, 'crowdpose')
    assert 0.2 < metrics['AP'] < 0.95

    coco_gt = load_coco(copy.deepcopy(val_subset))
    with quiet_pycocotools():
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
    official = []
    for split in splits_of(val_subset):
        ev = CrowdPoseCOCOeval(coco_gt, coco_dt)
        ev.params.imgIds = split
        with quiet_pycocotools():
            ev.evaluate()
            ev.accumulate()
        official.append(round(float(np.mean(ev.eval['precision'][:, :, :, 0, :])), 4))
    assert [metrics['AP (E)'], metrics['AP (M)'], metrics['AP (H)']] == official

    # OKS matrix of one crowded image against the crowdposetools formula
    img = max(splits_of(val_subset)[2],
              key=lambda i: len(coco_gt.getAnnIds(imgIds=[i])))
    anns = coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=[img]))
    ev = CrowdPoseCOCOeval(coco_gt, coco_dt)
    ev.params.imgIds = [img]
    with quiet_pycocotools():
        ev.evaluate()
    dts = sorted(coco_dt.loadAnns(coco_dt.getAnnIds(imgIds=[img])),
                 key=lambda d: -d['score'])[:20]  # maxDets
    ious = ev.ious[(img, 1)]
    assert ious.shape == (len(dts), len(anns))
    for j, g in enumerate(anns):
        if g['num_keypoints'] == 0:
            continue
        for i, d in enumerate(dts):
            assert ious[i, j] == pytest.approx(official_oks(g['keypoints'], g['bbox'],
                                                            d['keypoints']), abs=1e-12)
    assert 'area' not in anns[0]  # the caller's annotations are not modified
