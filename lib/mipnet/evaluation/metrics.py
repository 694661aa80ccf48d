"""Keypoint AP/AR: the COCO protocol (pycocotools) and the official CrowdPose protocol.

CrowdPose (crowdposetools ``cocoeval.py`` of Jeff-sjtu/CrowdPose), reproduced on top of
pycocotools' ``COCOeval`` by :class:`CrowdPoseCOCOeval`:

* 14 OKS sigmas (.79 .79 .72 .72 .62 .62 1.07 1.07 .87 .87 .89 .89 .79 .79) / 10;
* the ground-truth area used both in the OKS denominator and for the area-range ignore
  flags is ``bbox_w * bbox_h * 0.53`` (the ``area`` field is not used; CrowdPose
  annotations have none). The OKS uses no detection area; unmatched detections are
  ignored outside an area range by their keypoint-extent area, as in COCO;
* maxDets = 20, area ranges all / medium (32^2..96^2) / large (> 96^2);
* AP, AP .5, AP .75, AR, AR .5, AR .75 from the 'all' range (not rounded);
* AP (E), AP (M), AP (H): the images are split by ``crowdIndex`` into [0, 0.2), [0.2, 0.8)
  and [0.8, inf); each split is evaluated on its own and scored as the plain mean of its
  'all'-range precision array, rounded to 4 decimals; a split without (non-ignored)
  ground truth scores -1, as in the official code. Here the per-image matching of the
  full evaluation is reused and only the accumulation is redone per split, which gives
  the same numbers as re-running the evaluation on each split.

As in pycocotools, a COCO metric over an area range that holds no ground truth is -1.
"""
import contextlib
import copy
import gzip
import io
import json
import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mipnet.data.metadata import KeypointMeta, get_keypoint_meta

logger = logging.getLogger(__name__)

__all__ = ['keypoint_eval', 'format_metrics_table', 'format_metric', 'metrics_table_note',
           'CrowdPoseCOCOeval', 'load_coco',
           'run_keypoint_eval', 'load_results', 'load_detections', 'quiet_pycocotools',
           'resolve_keypoint_meta',
           'COCO_METRIC_NAMES', 'CROWDPOSE_METRIC_NAMES', 'CROWDPOSE_SIGMAS']

COCO_METRIC_NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)',
                     'AR', 'AR .5', 'AR .75', 'AR (M)', 'AR (L)')
CROWDPOSE_METRIC_NAMES = ('AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75',
                          'AP (E)', 'AP (M)', 'AP (H)')
# indices into the official 11-entry CrowdPose stats vector
_CROWDPOSE_STATS_INDEX = (0, 1, 2, 5, 6, 7, 8, 9, 10)
CROWDPOSE_SIGMAS = np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89,
                             .79, .79]) / 10.0
CROWDPOSE_AREA_FACTOR = 0.53


@contextlib.contextmanager
def quiet_pycocotools():
    """Capture pycocotools' prints and forward them to logging.debug."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        text = buf.getvalue().strip()
        if text:
            logger.debug('pycocotools:\n%s', text)


def load_coco(gt):
    """A pycocotools ``COCO`` from a path (.json or .json.gz), a dataset dict (its
    annotation dicts are copied: evaluation marks them), or a COCO object (used as is)."""
    if isinstance(gt, COCO):
        return gt
    if isinstance(gt, dict):
        dataset = dict(gt)
        if isinstance(gt.get('annotations'), list):
            dataset['annotations'] = [dict(a) for a in gt['annotations']]
    else:
        path = Path(gt)
        if not path.is_file():
            raise FileNotFoundError(f'ground-truth annotation file not found: {path}')
        opener = gzip.open if path.suffix == '.gz' else open
        with opener(path, 'rt') as f:
            dataset = json.load(f)
    if not isinstance(dataset, dict) or 'images' not in dataset or 'annotations' not in dataset:
        raise ValueError('ground truth must be a COCO dataset with images and annotations')
    coco = COCO()
    coco.dataset = dataset
    with quiet_pycocotools():
        coco.createIndex()
    return coco


# Segmentation area / box area of people; CrowdPose's protocol uses the same factor.
BOX_AREA_FACTOR = 0.53


def _fill_missing_areas(coco_gt):
    """COCOeval scales OKS by the ``area`` field; annotations without one (hand-made sets)
    get ``w * h * 0.53`` from their box instead of crashing pycocotools. Sets the field on
    ``coco_gt``'s annotation dicts."""
    missing = 0
    for ann in coco_gt.anns.values():
        if 'area' not in ann:
            bbox = ann.get('bbox') or [0, 0, 0, 0]
            ann['area'] = float(bbox[2]) * float(bbox[3]) * BOX_AREA_FACTOR
            missing += 1
    if missing:
        logger.warning('%d ground-truth annotations have no "area"; using box w*h*%.2f',
                       missing, BOX_AREA_FACTOR)


def _finite_ground_truth(coco_gt):
    """Keep NaN / Inf out of the OKS: pycocotools would compute a NaN OKS and count it as a
    match (``NaN < threshold`` is False). A joint with a non-finite value becomes unlabelled
    (0, 0, 0; ``num_keypoints`` recounted), a non-finite ``area`` is replaced by the box's
    ``w * h * 0.53``, an annotation with a non-finite box is left out. Edits ``coco_gt``'s
    annotation dicts; logs a warning with the counts."""
    joints = areas = dropped = 0
    for ann_id, ann in list(coco_gt.anns.items()):
        bbox = ann.get('bbox')
        if bbox is not None and not np.isfinite(np.asarray(bbox, dtype=np.float64)).all():
            del coco_gt.anns[ann_id]
            dropped += 1
            continue
        kpts = ann.get('keypoints')
        if kpts:
            arr = np.asarray(kpts, dtype=np.float64).reshape(-1, 3)
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                arr[bad] = 0.0
                ann['keypoints'] = arr.reshape(-1).tolist()
                ann['num_keypoints'] = int((arr[:, 2] > 0).sum())
                joints += int(bad.sum())
        area = ann.get('area')
        if area is not None and not np.isfinite(float(area)):
            box = bbox or [0, 0, 0, 0]
            ann['area'] = float(box[2]) * float(box[3]) * BOX_AREA_FACTOR
            areas += 1
    if dropped:
        kept = set(coco_gt.anns)
        coco_gt.dataset['annotations'] = [a for a in coco_gt.dataset['annotations']
                                          if a.get('id') in kept]
        with quiet_pycocotools():
            coco_gt.createIndex()
    if joints or areas or dropped:
        logger.warning('ground truth has non-finite values: %d joints treated as unlabelled, '
                       '%d areas replaced by box w*h*%.2f, %d annotations with a non-finite '
                       'box left out', joints, areas, BOX_AREA_FACTOR, dropped)


def load_results(results, coco_gt, num_joints):
    """Validated copies of the result records (image_id, category_id, keypoints, score);
    records with a non-finite keypoint value or score are left out (counted in a warning).

    Raises:
        ValueError: a malformed record (missing keys, booleans where numbers belong, a wrong
            number of keypoint values) or image ids not in ``coco_gt``; the message names
            the file when ``results`` is a path.
    """
    where = ''
    if isinstance(results, (str, Path)):
        where = f'results file {results}: '
        with open(results) as f:
            results = json.load(f)
    if not isinstance(results, (list, tuple)):
        raise TypeError('results must be a list of COCO result dicts or a JSON file path')
    clean = []
    nonfinite = 0
    for i, r in enumerate(results):
        # json.load reads true / false as Python booleans, which float() takes for 1 / 0.
        booleans = [key for key in ('image_id', 'category_id', 'score')
                    if isinstance(r, dict) and isinstance(r.get(key), bool)]
        if isinstance(r, dict) and isinstance(r.get('keypoints'), (list, tuple)) and \
                any(isinstance(v, bool) for v in r['keypoints']):
            booleans.append('keypoints')
        if booleans:
            raise ValueError(f'{where}result {i} has a boolean {booleans[0]} '
                             f'({str(r[booleans[0]])[:60]}); expected numbers')
        try:
            kpts = np.asarray(r['keypoints'], dtype=np.float64).reshape(-1)
            rec = {'image_id': r['image_id'], 'category_id': int(r.get('category_id', 1)),
                   'keypoints': kpts.tolist(), 'score': float(r['score'])}
        except (KeyError, TypeError) as err:
            raise ValueError(f'{where}result {i} is not a keypoint result record '
                             f'(image_id, keypoints, score): {err}') from None
        if isinstance(rec['image_id'], np.generic):
            rec['image_id'] = rec['image_id'].item()
        if len(kpts) != 3 * num_joints:
            raise ValueError(f'{where}result {i} has {len(kpts)} keypoint values, expected '
                             f'{3 * num_joints} ({num_joints} joints x 3)')
        if not (np.isfinite(kpts).all() and np.isfinite(rec['score'])):
            nonfinite += 1
            continue
        clean.append(rec)
    if nonfinite:
        logger.warning('%d of %d results have non-finite keypoints or score and are not '
                       'scored', nonfinite, len(results))
    unknown = sorted({r['image_id'] for r in clean} - set(coco_gt.getImgIds()), key=str)
    if unknown:
        shown = ', '.join(map(str, unknown[:20]))
        more = f' (and {len(unknown) - 20} more)' if len(unknown) > 20 else ''
        raise ValueError(f'{where}{len(unknown)} result image ids are not in the ground truth: '
                         f'{shown}{more}')
    return clean


def load_detections(coco_gt, records):
    """pycocotools COCO of the result ``records`` (see :func:`load_results`) over the images
    and categories of ``coco_gt``; an empty one when there are no records."""
    if records:
        with quiet_pycocotools():
            return coco_gt.loadRes(records)
    coco_dt = COCO()
    coco_dt.dataset = {'images': list(coco_gt.dataset['images']),
                       'categories': copy.deepcopy(coco_gt.dataset.get('categories', [])),
                       'annotations': []}
    with quiet_pycocotools():
        coco_dt.createIndex()
    return coco_dt


class CrowdPoseCOCOeval(COCOeval):
    """pycocotools ``COCOeval`` following the official CrowdPose keypoint protocol (see the
    module docstring). Use as COCOeval: evaluate(), accumulate(), summarize(); ``stats``
    then holds the official 11-entry vector (entries 3 and 4 unused, 0), and
    ``type_results`` the (E, M, H) APs."""

    def __init__(self, cocoGt, cocoDt, iouType='keypoints', crowd_thresholds=(0.2, 0.8)):
        if iouType != 'keypoints':
            raise ValueError('CrowdPoseCOCOeval evaluates keypoints only')
        super().__init__(cocoGt, cocoDt, 'keypoints')
        p = self.params
        p.kpt_oks_sigmas = CROWDPOSE_SIGMAS.copy()
        p.maxDets = [20]
        p.areaRng = [[0 ** 2, 1e5 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        p.areaRngLbl = ['all', 'medium', 'large']
        self.crowd_thresholds = tuple(crowd_thresholds)
        self.type_results = None

    def _prepare(self):
        super()._prepare()
        # OKS scale and area-range filtering use 0.53 * box area for the ground truth; work
        # on shallow copies so the caller's COCO annotations keep their fields.
        for key, gts in self._gts.items():
            self._gts[key] = [dict(g, area=g['bbox'][2] * g['bbox'][3] * CROWDPOSE_AREA_FACTOR)
                              for g in gts]

    def crowd_splits(self):
        """(easy, medium, hard) lists of gt image ids by crowdIndex."""
        first, second = self.crowd_thresholds
        easy, mid, hard, missing = [], [], [], []
        for img_id, img in self.cocoGt.imgs.items():
            ci = img.get('crowdIndex')
            if ci is None:
                missing.append(img_id)
            elif ci < first:
                easy.append(img_id)
            elif ci < second:
                mid.append(img_id)
            else:
                hard.append(img_id)
        if missing:
            logger.warning('%d images have no crowdIndex and are left out of AP (E/M/H)',
                           len(missing))
        return easy, mid, hard

    def _split_ap(self, img_ids):
        """Official per-split score: mean of the 'all'-range precision array of the split,
        rounded to 4 decimals (-1 for a split without ground truth)."""
        pe = self._paramsEval
        n_img, n_area = len(pe.imgIds), len(pe.areaRng)
        n_cat = len(pe.catIds) if pe.useCats else 1
        pos = {img: i for i, img in enumerate(pe.imgIds)}
        sel = sorted(pos[i] for i in set(img_ids) if i in pos)
        saved = (self.evalImgs, self._paramsEval, self.eval)
        try:
            sub = copy.deepcopy(pe)
            sub.imgIds = [pe.imgIds[i] for i in sel]
            self.evalImgs = [saved[0][k * n_area * n_img + a * n_img + i]
                             for k in range(n_cat) for a in range(n_area) for i in sel]
            self._paramsEval = sub
            self.accumulate(copy.deepcopy(sub))
            return round(float(np.mean(self.eval['precision'][:, :, :, 0, :])), 4)
        finally:
            self.evalImgs, self._paramsEval, self.eval = saved

    def summarize(self):
        """Fill ``self.stats`` (official CrowdPose layout, 11 entries) and
        ``self.type_results``; the summary lines go to logging.debug."""
        if not self.eval:
            raise RuntimeError('run evaluate() and accumulate() first')
        p = self.params
        aind = p.areaRngLbl.index('all')
        mind = p.maxDets.index(20)

        def mean_valid(s):
            s = s[s > -1]
            return float(np.mean(s)) if s.size else -1.0

        def ap(iou=None):
            s = self.eval['precision']
            if iou is not None:
                s = s[np.where(np.abs(iou - p.iouThrs) < 0.01)[0]]
            return mean_valid(s[:, :, :, aind, mind])

        def ar(iou=None):
            s = self.eval['recall']
            if iou is not None:
                s = s[np.where(iou == p.iouThrs)[0]]
            return mean_valid(s[:, :, aind, mind])

        with quiet_pycocotools():
            self.type_results = [self._split_ap(ids) for ids in self.crowd_splits()]
        stats = np.zeros(11)
        stats[0], stats[1], stats[2] = ap(), ap(.5), ap(.75)
        stats[5], stats[6], stats[7] = ar(), ar(.5), ar(.75)
        stats[8:11] = self.type_results
        self.stats = stats
        for name, idx in zip(CROWDPOSE_METRIC_NAMES, _CROWDPOSE_STATS_INDEX):
            logger.debug('CrowdPose %-7s = %.4f', name, stats[idx])


def resolve_keypoint_meta(dataset):
    """The :class:`KeypointMeta` of ``dataset``: a KeypointMeta or a registered name."""
    if isinstance(dataset, KeypointMeta):
        return dataset
    return get_keypoint_meta(str(dataset))


def run_keypoint_eval(coco_gt, results, meta, wrap=None):
    """COCOeval (or CrowdPoseCOCOeval, per ``meta.evaluator``) of ``results``.

    Args:
        coco_gt: pycocotools COCO ground truth (annotations without ``area`` get one).
        results: as for :func:`keypoint_eval`.
        meta: :class:`KeypointMeta` (evaluator and sigmas).
        wrap: optional ``wrap(evaluator_class) -> subclass`` to evaluate with, e.g. to mark
            ground-truth people as ignored.

    Returns:
        (OrderedDict of metrics as in :func:`keypoint_eval`, list of validated records).
    """
    _finite_ground_truth(coco_gt)
    records = load_results(results, coco_gt, meta.num_joints)
    coco_dt = load_detections(coco_gt, records)
    if meta.evaluator == 'crowdpose':
        base, args = CrowdPoseCOCOeval, ()
        names, index = CROWDPOSE_METRIC_NAMES, _CROWDPOSE_STATS_INDEX
    elif meta.evaluator == 'coco':
        _fill_missing_areas(coco_gt)
        base, args = COCOeval, ('keypoints',)
        names, index = COCO_METRIC_NAMES, tuple(range(len(COCO_METRIC_NAMES)))
    else:
        raise ValueError(f'unknown evaluator {meta.evaluator!r} for dataset {meta.name!r}')
    evaluator = (wrap(base) if wrap else base)(coco_gt, coco_dt, *args)
    if meta.evaluator == 'coco':
        evaluator.params.kpt_oks_sigmas = meta.sigmas_array
    evaluator.params.useSegm = None
    with quiet_pycocotools():
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics = OrderedDict((name, float(evaluator.stats[i])) for name, i in zip(names, index))
    return metrics, records


def keypoint_eval(gt_file, results, dataset='coco'):
    """Keypoint AP/AR of ``results`` against ``gt_file``.

    Args:
        gt_file: COCO-format ground truth: path (.json or .json.gz), dataset dict, or a
            pycocotools COCO object.
        results: list of COCO keypoint results ({'image_id', 'category_id', 'keypoints':
            3J values, 'score'}) or the path of a results JSON file. Extra keys are ignored;
            detection areas come from the keypoint extents.
        dataset: dataset name or :class:`KeypointMeta`: evaluator 'coco' (coco, ochuman,
            synthetic; the meta's sigmas) or 'crowdpose' (official CrowdPose protocol).

    Returns:
        OrderedDict name -> float: for COCO the names of ``COCO_METRIC_NAMES``, for
        CrowdPose those of ``CROWDPOSE_METRIC_NAMES``. Empty results give 0 (-1 where
        the ground truth has no person in that area range / crowd split).

    Raises:
        ValueError: results referring to image ids that are not in the ground truth, or
            malformed result records.
    """
    meta = resolve_keypoint_meta(dataset)
    metrics, records = run_keypoint_eval(load_coco(gt_file), results, meta)
    logger.debug('%s keypoint metrics over %d results: %s', meta.name, len(records),
                 dict(metrics))
    return metrics


def format_metrics_table(rows, first_column='Arch'):
    """Markdown table of metrics, one row per label, values to 3 decimals.

    Args:
        rows: mapping row label -> (mapping metric name -> value); every row has the
            metric names of the first row, in its order (one column each).
        first_column: header of the label column.

    Returns:
        The table string (no trailing newline): a header, a rule and one line per row, all
        with ``len(names) + 1`` cells; a negative value (pycocotools' -1: nothing to score,
        e.g. AP (L) on a set without large people) reads 'n/a' (see
        :func:`metrics_table_note`); ``|`` inside a label is escaped as ``\\|`` so that
        the table renders as Markdown.

    Raises:
        ValueError: no rows, or a row whose metric names differ from the first row's.
    """
    if not rows:
        raise ValueError('format_metrics_table: no rows')
    names = list(next(iter(rows.values())).keys())
    lines = ['| ' + ' | '.join([first_column] + names) + ' |', '|---|' + '---|' * len(names)]
    for label, metrics in rows.items():
        if list(metrics.keys()) != names:
            raise ValueError(f'format_metrics_table: row {label!r} has metrics '
                             f'{list(metrics.keys())}, expected {names}')
        cells = [str(label).replace('|', '\\|')] + [format_metric(metrics[n]) for n in names]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_metric(value):
    """A metric with three decimals; pycocotools' -1 (no ground-truth person in that area
    range or crowd split) as 'n/a'."""
    value = float(value)
    return f'{value:.3f}' if value >= 0 else 'n/a'


def metrics_table_note(rows, evaluator='coco'):
    """The line to print under :func:`format_metrics_table` of ``rows`` when some value is
    'n/a', naming the metrics concerned and why; '' when there is none.

    Args:
        rows: as for :func:`format_metrics_table`.
        evaluator: 'coco' (AP/AR (M)/(L): area ranges) or 'crowdpose' (AP (E)/(M)/(H):
            crowd-index splits).
    """
    missing = [name for name in next(iter(rows.values()), {})
               if any(float(m[name]) < 0 for m in rows.values())]
    if not missing:
        return ''
    if evaluator == 'crowdpose':
        why = {'AP (E)': 'no image of crowd index below 0.2',
               'AP (M)': 'no image of crowd index 0.2 to 0.8',
               'AP (H)': 'no image of crowd index 0.8 or more'}
    else:
        why = {f'{kind} ({size})': f'no person of {text} area (annotation "area" {rng})'
               for kind in ('AP', 'AR')
               for size, text, rng in (('M', 'medium', '32² to 96² px'),
                                       ('L', 'large', 'over 96² px'))}
    reasons = [f'{name}: {why.get(name, "no ground-truth person to score")}' for name in missing]
    return 'n/a: the ground truth has nothing to score there (' + '; '.join(reasons) + ')'
