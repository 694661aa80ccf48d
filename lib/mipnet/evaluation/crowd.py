"""What a model does in crowds, from the predictions of one evaluation: the occluded subset
per instance mode, the crowd-error rate of instance 0, and the people found by instance 0,
by any instance and only by instances k >= 1.

These are the pieces of ``tools/test.py --crowd-report`` (:mod:`mipnet.engine.crowd_report`)
and of the MIPNet-vs-HRNet comparison (:mod:`mipnet.analysis.evaluation`): both call these
functions. None of them runs a model; they read result files (or lists) of
:func:`mipnet.engine.evaluate.evaluate_predictions` and the per-box keypoints before
rescoring and OKS-NMS.

The OKS of a person follows the dataset's protocol: COCO / OCHuman / synthetic use the
annotation's ``area`` (``w * h * 0.53`` of its box where it has none, as
:func:`mipnet.evaluation.keypoint_eval` does), CrowdPose always ``w * h * 0.53``.
"""
import numpy as np

from mipnet.evaluation.metrics import (BOX_AREA_FACTOR, CROWDPOSE_AREA_FACTOR, load_coco,
                                       resolve_keypoint_meta)
from mipnet.evaluation.subsets import (best_oks_per_person, box_outcomes, crowd_error_rate,
                                       subset_keypoint_eval)

__all__ = ['FOUND_OKS', 'GROUPS', 'oks_ground_truth', 'occluded_subset_metrics',
           'crowd_error_groups', 'found_people', 'people_found']

#: OKS at which a pose counts as showing a person ("found")
FOUND_OKS = 0.5
#: the groups of people the counts are split into: everybody and the occluded subset
GROUPS = ('all', 'occluded')


def oks_ground_truth(gt, dataset='coco'):
    """A COCO copy of ``gt`` whose annotations carry the ``area`` the dataset's OKS uses
    (see the module docstring), for :func:`~mipnet.evaluation.subsets.best_oks_per_person`
    and :func:`~mipnet.evaluation.subsets.box_outcomes`, which read ``area`` as it is.

    Args:
        gt: COCO ground truth (path, dataset dict or COCO object; a COCO object is copied).
        dataset: dataset name or ``KeypointMeta``.
    """
    meta = resolve_keypoint_meta(dataset)
    coco = load_coco(gt)
    coco = load_coco(coco.dataset)  # annotation dicts copied: the caller's stay unchanged
    factor = CROWDPOSE_AREA_FACTOR if meta.evaluator == 'crowdpose' else BOX_AREA_FACTOR
    for ann in coco.dataset['annotations']:
        if meta.evaluator == 'crowdpose' or 'area' not in ann:
            box = ann.get('bbox') or [0, 0, 0, 0]
            ann['area'] = float(box[2]) * float(box[3]) * factor
    return coco


def occluded_subset_metrics(gt, results, dataset, occluded_ids):
    """Keypoint metrics of the occluded subset per instance mode.

    Args:
        gt: COCO ground truth (path, dataset dict or COCO object).
        results: {mode key: COCO keypoint results (list or JSON path)}, e.g. 'merged',
            'instance 0', 'instance 1' as validation writes them.
        dataset: dataset name or ``KeypointMeta`` (evaluator, sigmas).
        occluded_ids: annotation ids of the subset
            (:func:`~mipnet.evaluation.subsets.occluded_ann_ids`).

    Returns:
        {mode key: metrics of :func:`~mipnet.evaluation.subsets.subset_keypoint_eval`
        (with 'num_gt', the subset's evaluable people)}, in the order of ``results``.
    """
    return {key: subset_keypoint_eval(gt, res, dataset, ann_ids=occluded_ids)
            for key, res in results.items()}


def crowd_error_groups(gt, ann_ids, keypoints, dataset, occluded_ids, oks_thre=FOUND_OKS):
    """:func:`~mipnet.evaluation.subsets.box_outcomes` and the crowd-error rate of instance
    0 (:func:`~mipnet.evaluation.subsets.crowd_error_rate`) for the occluded subset, the
    other people with a box, and all of them.

    Args:
        gt: COCO ground truth (path, dataset dict or COCO object).
        ann_ids: (M,) annotation id of each box's own person (ground-truth boxes).
        keypoints: (M, K, J, >=2) every instance's pose of each box, before rescoring and
            OKS-NMS (image coordinates).
        dataset: dataset name or ``KeypointMeta``.
        occluded_ids: annotation ids of the occluded subset.
        oks_thre: OKS at which a pose shows a person.

    Returns:
        {'occluded', 'others', 'all'}: each the counts of ``box_outcomes`` ('people', 'own',
        'other', 'found') plus 'crowd_error_rate' (NaN without people). 'occluded' counts
        every evaluable person of the subset (one without a box has no crowd error),
        'others' the other people with a box.
    """
    coco = oks_ground_truth(gt, dataset)
    ann_ids = [int(a) for a in np.asarray(ann_ids).reshape(-1)]
    occluded = set(occluded_ids)
    groups = {'occluded': occluded, 'others': set(ann_ids) - occluded}
    outcomes = {name: box_outcomes(coco, ann_ids, keypoints, dataset, oks_thre, subset=ids)
                for name, ids in groups.items()}
    outcomes['all'] = {key: outcomes['occluded'][key] + outcomes['others'][key]
                       for key in outcomes['occluded']}
    for counts in outcomes.values():
        counts['crowd_error_rate'] = crowd_error_rate(counts)
    return outcomes


def found_people(gt, results, dataset, oks_thre=FOUND_OKS):
    """(annotation ids of the people that some result reaches with OKS >= ``oks_thre``,
    annotation ids of all evaluable people), by
    :func:`~mipnet.evaluation.subsets.best_oks_per_person` (20 best results per image)."""
    best = best_oks_per_person(oks_ground_truth(gt, dataset), results, dataset)
    return {a for a, oks in best.items() if oks >= oks_thre}, set(best)


def people_found(gt, results, dataset, occluded_ids, oks_thre=FOUND_OKS):
    """How many people each instance mode finds, on all people and on the occluded subset.

    'only instance >= 1' is the union over k >= 1 of
    :func:`~mipnet.evaluation.subsets.second_instance_finds` (instance 0 against instance
    k): the people MIPNet's extra instances add. Modes a model does not have (an HRNet has
    only 'merged', its one instance) give no rows beyond 'merged'.

    Args:
        gt: COCO ground truth (path, dataset dict or COCO object).
        results: {mode key: COCO keypoint results (list or JSON path)}: 'merged' and, for a
            multi-instance model, 'instance 0', 'instance 1', ...
        dataset: dataset name or ``KeypointMeta``.
        occluded_ids: annotation ids of the occluded subset.
        oks_thre: OKS at which a pose shows a person.

    Returns:
        dict with 'people' ({'all', 'occluded'}: evaluable people), 'found' ({row: {'all',
        'occluded'}} for every mode of ``results``, then 'any instance' and 'only instance
        >= 1' when there are instance modes) and 'only_instance_ge1_ids' (sorted annotation
        ids of the last row, all people).
    """
    found = {}
    people = set()
    for key, res in results.items():
        found[key], people = found_people(gt, res, dataset, oks_thre)
    instances = sorted((key for key in results if key.startswith('instance ')),
                       key=lambda key: int(key.split()[1]))
    only_later = set()
    if 'instance 0' in found and len(instances) > 1:
        later = set().union(*(found[key] for key in instances if key != 'instance 0'))
        only_later = later - found['instance 0']
        found['any instance'] = found['instance 0'] | later
        found['only instance >= 1'] = only_later
    occluded = set(occluded_ids) & people
    return {'people': {'all': len(people), 'occluded': len(occluded)},
            'found': {row: {'all': len(ids), 'occluded': len(ids & occluded)}
                      for row, ids in found.items()},
            'only_instance_ge1_ids': sorted(only_later)}
