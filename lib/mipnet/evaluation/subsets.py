"""Keypoint AP/AR restricted to a subset of the ground-truth people, in particular the
*occluded subset*: the people whose box overlaps another person's box by IoU >= 0.5.

Method
------
The subset metrics are the ordinary COCO (or CrowdPose) keypoint metrics of
:func:`mipnet.evaluation.keypoint_eval`, computed by pycocotools' ``COCOeval`` on **all**
results and **all** ground-truth people of **all** images; the only change is that every
ground-truth person outside the subset is marked ``ignore`` (after ``COCOeval._prepare``,
on copies of the annotation dicts). ``COCOeval`` then treats those people exactly as it
treats crowd regions and people without keypoints:

* they do not count in the number of ground-truth people (the recall denominator), so
  AR (subset) = the fraction of subset people found, averaged over the OKS thresholds
  .50:.05:.95 (at most 20 detections per image);
* a detection matched to an ignored person is neither a true nor a false positive: it
  is dropped from the precision computation. Predictions of the other people in the
  image therefore cost the subset AP nothing;
* everything else is unchanged: detections are matched greedily in score order, each
  person at most once (the ignored ones too: they are not ``iscrowd``, so a duplicate
  of an ignored person is a false positive, as in the full evaluation); a detection that
  matches nobody is a false positive; as for COCO crowd regions, a detection is matched
  to an ignored person only if no unmatched subset person reaches the OKS threshold.

So a subset AP/AR answers: "on these people, how many are found, and how precise is the
ranking of the detections that are not of the other people?"

Occluded subset (:func:`occluded_ann_ids`): a ground-truth person (category 1, not crowd)
belongs to it when its box ``[x, y, w, h]`` has IoU >= ``iou_thre`` (continuous
coordinates, no +1) with the box of any other non-crowd person of the same image (people
without labelled keypoints included, as occluders). Overlap is symmetric, so both people
of such a pair are in the subset. Subset members without labelled keypoints are ignored by
COCOeval anyway and are not counted in ``num_gt``.

A subset without an evaluable person gives -1 for every metric, as pycocotools does for an
empty area range.
"""
import logging

import numpy as np
from pycocotools.cocoeval import COCOeval

from mipnet.evaluation.metrics import (load_coco, load_detections, load_results,
                                       quiet_pycocotools, resolve_keypoint_meta,
                                       run_keypoint_eval)
from mipnet.utils.boxes import box_iou_matrix

logger = logging.getLogger(__name__)

__all__ = ['box_iou_matrix', 'occluded_ann_ids', 'subset_keypoint_eval',
           'occluded_keypoint_eval', 'best_oks_per_person', 'box_outcomes', 'person_oks',
           'second_instance_finds', 'OCCLUDED_IOU']

#: default box IoU that puts a pair of people into the occluded subset
OCCLUDED_IOU = 0.5


def _people_by_image(coco):
    """Non-crowd person annotations of a COCO object grouped by image id."""
    by_image = {}
    for ann in coco.dataset['annotations']:
        if ann.get('category_id', 1) != 1 or ann.get('iscrowd', 0):
            continue
        by_image.setdefault(ann['image_id'], []).append(ann)
    return by_image


def occluded_ann_ids(gt, iou_thre=OCCLUDED_IOU):
    """Annotation ids of the people whose box has IoU >= ``iou_thre`` with another
    person's box of the same image.

    Args:
        gt: COCO ground truth (path, dataset dict or pycocotools COCO).
        iou_thre: box IoU threshold.

    Returns:
        set of annotation ids.
    """
    ids = set()
    for anns in _people_by_image(load_coco(gt)).values():
        if len(anns) < 2:
            continue
        iou = box_iou_matrix([a['bbox'] for a in anns])
        np.fill_diagonal(iou, 0.0)
        for a, hit in zip(anns, (iou >= iou_thre).any(axis=1)):
            if hit:
                ids.add(a['id'])
    return ids


def crowd_merged_boxes(gt, iou_thre=OCCLUDED_IOU):
    """Person boxes as a detector with box NMS would give them: per image, the ground-truth
    boxes in order of decreasing visible area (``area``), each dropped when its IoU with
    an already kept box reaches ``iou_thre``. Two strongly overlapping people then share
    one box, the situation a one-person-per-box network cannot resolve.

    Args:
        gt: COCO ground truth (path, dataset dict or pycocotools COCO).
        iou_thre: box IoU at which the smaller person's box is dropped.

    Returns:
        COCO detection results (list of ``{'image_id', 'category_id': 1, 'bbox', 'score':
        1.0}``), images in ascending id order; crowd regions and empty boxes are skipped.
    """
    by_image = _people_by_image(load_coco(gt))
    boxes = []
    for image_id in sorted(by_image):
        anns = sorted((a for a in by_image[image_id]
                       if a.get('bbox') and a['bbox'][2] > 0 and a['bbox'][3] > 0),
                      key=lambda a: (-float(a.get('area', a['bbox'][2] * a['bbox'][3])),
                                     a['id']))
        if not anns:
            continue
        iou = box_iou_matrix([a['bbox'] for a in anns])
        kept = []
        for i in range(len(anns)):
            if all(iou[i, j] < iou_thre for j in kept):
                kept.append(i)
        boxes += [{'image_id': image_id, 'category_id': 1,
                   'bbox': [float(v) for v in anns[i]['bbox']], 'score': 1.0} for i in kept]
    return boxes


def _subset_evaluator(base, keep_ids):
    """``base`` (COCOeval or CrowdPoseCOCOeval) with every gt outside ``keep_ids`` ignored."""

    class SubsetEval(base):
        def _prepare(self):
            super()._prepare()
            for key, gts in self._gts.items():
                self._gts[key] = [g if g['id'] in keep_ids else dict(g, ignore=1)
                                  for g in gts]

    return SubsetEval


def subset_keypoint_eval(gt_file, results, dataset='coco', ann_ids=None,
                         iou_thre=OCCLUDED_IOU):
    """Keypoint AP/AR of ``results`` on a subset of the ground-truth people.

    Args:
        gt_file: COCO ground truth: path (.json / .json.gz), dataset dict or COCO object.
        results: COCO keypoint results (list of dicts or a JSON path), as for
            :func:`mipnet.evaluation.keypoint_eval`.
        dataset: dataset name or ``KeypointMeta`` (sigmas and evaluator).
        ann_ids: annotation ids of the subset; None: the occluded subset
            (:func:`occluded_ann_ids` with ``iou_thre``).
        iou_thre: box IoU of the occluded subset (used only when ``ann_ids`` is None).

    Returns:
        OrderedDict: the metrics of ``keypoint_eval`` (same names, same meaning, but over
        the subset; see the module docstring), plus 'num_gt', the number of evaluable
        (non-crowd, keypoint-labelled) people of the subset.
    """
    meta = resolve_keypoint_meta(dataset)
    coco_gt = load_coco(gt_file)
    keep = occluded_ann_ids(coco_gt, iou_thre) if ann_ids is None else set(ann_ids)
    metrics, _ = run_keypoint_eval(coco_gt, results, meta,
                                   lambda base: _subset_evaluator(base, keep))
    metrics['num_gt'] = sum(1 for a in coco_gt.dataset['annotations']
                            if a['id'] in keep and not a.get('iscrowd', 0)
                            and _num_keypoints(a) > 0)
    logger.debug('subset keypoint metrics (%d people): %s', metrics['num_gt'], dict(metrics))
    return metrics


def _num_keypoints(ann):
    if 'num_keypoints' in ann:
        return int(ann['num_keypoints'])
    return int(np.count_nonzero(np.asarray(ann.get('keypoints', []))[2::3]))


def occluded_keypoint_eval(gt_file, results, dataset='coco', iou_thre=OCCLUDED_IOU):
    """:func:`subset_keypoint_eval` on the occluded subset (box IoU >= ``iou_thre`` with
    another person)."""
    return subset_keypoint_eval(gt_file, results, dataset, None, iou_thre)


def best_oks_per_person(gt_file, results, dataset='coco', max_dets=20):
    """Per ground-truth person, the best OKS reached by any result of its image.

    The OKS is pycocotools' (``COCOeval.computeOks``: the person's labelled joints, its
    ``area``, the dataset's sigmas) and only the ``max_dets`` highest-scoring results of
    each image count, as in COCO's AR. A person is "found" at OKS threshold t when its
    value is >= t, whatever else the results hold: this is the per-person view behind AR.

    Args:
        gt_file: COCO ground truth: path (.json / .json.gz), dataset dict or COCO object.
        results: COCO keypoint results (list of dicts or a JSON path).
        dataset: dataset name or ``KeypointMeta`` (sigmas).
        max_dets: results per image taken into account.

    Returns:
        dict {annotation id: best OKS (float, 0.0 if the image has no result)} over the
        evaluable people (not crowd, at least one labelled joint).
    """
    meta = resolve_keypoint_meta(dataset)
    coco_gt = load_coco(gt_file)
    records = load_results(results, coco_gt, meta.num_joints)
    evaluator = COCOeval(coco_gt, load_detections(coco_gt, records), 'keypoints')
    evaluator.params.kpt_oks_sigmas = meta.sigmas_array
    evaluator.params.maxDets = [int(max_dets)]
    evaluator.params.useSegm = None
    with quiet_pycocotools():
        evaluator._prepare()
    best = {}
    cat_id = evaluator.params.catIds[0]
    for img_id in evaluator.params.imgIds:
        gts = evaluator._gts[img_id, cat_id]
        oks = evaluator.computeOks(img_id, cat_id)
        oks = np.asarray(oks, dtype=np.float64).reshape(-1, len(gts))
        for g, person in enumerate(gts):
            if person['iscrowd'] or _num_keypoints(person) == 0:
                continue
            best[person['id']] = float(oks[:, g].max()) if oks.shape[0] else 0.0
    return best


def person_oks(poses, person, sigmas):
    """COCO OKS of poses against one ground-truth person (``COCOeval.computeOks`` for a
    person with labelled joints: their ``area``, the joints with v > 0).

    Args:
        poses: (P, J, >=2) image coordinates.
        person: COCO annotation with ``keypoints`` and ``area``.
        sigmas: (J,) per-joint OKS sigmas.

    Returns:
        (P,) float64; zeros if the person has no labelled joint.
    """
    poses = np.asarray(poses, dtype=np.float64)
    gt = np.asarray(person['keypoints'], dtype=np.float64).reshape(-1, 3)
    labelled = gt[:, 2] > 0
    if not labelled.any():
        return np.zeros(len(poses))
    variances = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    d2 = ((poses[:, :, :2] - gt[None, :, :2]) ** 2).sum(axis=2)
    e = d2 / variances / (float(person['area']) + np.spacing(1)) / 2.0
    return np.exp(-e[:, labelled]).mean(axis=1)


def box_outcomes(gt, ann_ids, keypoints, dataset='coco', oks_thre=0.5, subset=None):
    """What each ground-truth box's poses show, before rescoring and NMS.

    The crowd error of a one-person-per-box network is a box whose pose is another person
    of the image; this counts it, and how many people any pose reaches at all.

    Args:
        gt: COCO ground truth (path, dataset dict or COCO object).
        ann_ids: (M,) annotation id of the person each box belongs to.
        keypoints: (M, K, J, >=2) the K instance poses predicted from each box.
        dataset: dataset name or ``KeypointMeta`` (sigmas).
        oks_thre: OKS at which a pose counts as showing a person.
        subset: annotation ids to count (None: all evaluable people).

    Returns:
        dict of ints over the evaluable people (not crowd, a labelled joint) in ``subset``:
        'people' (with or without a box); 'own': the instance-0 pose of the person's box
        reaches ``oks_thre`` with them; 'other': it does not, but reaches ``oks_thre`` with
        another person of the image (the crowd error); 'found': some pose of any box and
        instance of the image reaches ``oks_thre`` with them.
    """
    meta = resolve_keypoint_meta(dataset)
    coco = load_coco(gt)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    ann_ids = np.asarray(ann_ids).reshape(-1)
    if keypoints.ndim != 4 or len(keypoints) != len(ann_ids):
        raise ValueError(f'keypoints must be (M, K, J, >=2) for the M = {len(ann_ids)} boxes, '
                         f'got {keypoints.shape}')
    box_of = {int(a): m for m, a in enumerate(ann_ids)}
    counts = dict(people=0, own=0, other=0, found=0)
    for anns in coco.imgToAnns.values():
        rows = [box_of[a['id']] for a in anns if a['id'] in box_of]
        poses = keypoints[rows].reshape(-1, *keypoints.shape[2:])  # every box and instance
        first = keypoints[rows, 0]  # instance 0 of each box, in ``rows`` order
        oks_first = [person_oks(first, a, meta.sigmas_array) for a in anns]  # per person
        for i, a in enumerate(anns):
            if (a.get('iscrowd', 0) or _num_keypoints(a) == 0
                    or (subset is not None and a['id'] not in subset)):
                continue
            counts['people'] += 1
            counts['found'] += bool(len(poses) and
                                    person_oks(poses, a, meta.sigmas_array).max() >= oks_thre)
            if a['id'] not in box_of:
                continue
            own_row = rows.index(box_of[a['id']])
            if oks_first[i][own_row] >= oks_thre:
                counts['own'] += 1
            elif any(oks_first[j][own_row] >= oks_thre for j in range(len(anns)) if j != i):
                counts['other'] += 1
    return counts


def crowd_error_rate(outcomes):
    """The crowd error of a one-person-per-box network: the share of the people whose own
    box's (instance-0) pose is another person of the image instead of them.

    Args:
        outcomes: a dict of :func:`box_outcomes` ('people', 'other').

    Returns:
        float in [0, 1]; NaN when there are no people.
    """
    if outcomes['people'] == 0:
        return float('nan')
    return outcomes['other'] / outcomes['people']
def second_instance_finds(gt, first, second, dataset='coco', oks_thre=0.5, score_thre=0.0):
    """The people that only the second instance finds: where MIPNet's λ = e1 matters.

    A person counts when some ``second`` result of their image reaches ``oks_thre`` with
    them and no ``first`` result does (:func:`best_oks_per_person`, results scoring below
    ``score_thre`` left out first, as a picture that does not draw them).

    Args:
        gt: COCO ground truth (path, dataset dict or COCO object).
        first: COCO keypoint results of instance 0 alone (list of dicts or a JSON path),
            e.g. ``results/keypoints_val_results_instance0.json`` of tools/test.py.
        second: the same for instance 1 (``..._instance1.json``).
        dataset: dataset name or ``KeypointMeta`` (sigmas).
        oks_thre: OKS at which a pose shows a person.
        score_thre: results below this score are ignored.

    Returns:
        dict {image id: sorted annotation ids of the people found only by ``second``},
        images without such a person left out.
    """
    coco = load_coco(gt)
    meta = resolve_keypoint_meta(dataset)

    def best(results):
        records = load_results(results, coco, meta.num_joints)
        return best_oks_per_person(coco, [r for r in records if r['score'] >= score_thre], meta)

    by_first, by_second = best(first), best(second)
    finds = {}
    for ann_id, oks in by_second.items():
        if oks >= oks_thre and by_first[ann_id] < oks_thre:
            finds.setdefault(coco.anns[ann_id]['image_id'], []).append(ann_id)
    return {img: sorted(ids) for img, ids in sorted(finds.items())}
