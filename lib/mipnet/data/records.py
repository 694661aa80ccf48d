"""Box records of a COCO-format keypoint dataset: annotation loading and validation, one
record per ground-truth person (with the other people of its image as instances 1..N-1,
nearest box center first) or per detection box.

A record is a plain dict: 'image' (path), 'image_id', 'ann_id' (-1 for detections),
'center' / 'scale' (float (2,)), 'score', 'joints' / 'joints_vis' (float32 (N, J, 3), image
pixels), 'instance_valid' (float32 (N,)) and 'instance_ann_ids' (list of N ints).
:class:`~mipnet.data.coco.COCOStyleDataset` turns records into training / evaluation samples.
"""
import gzip
import json
import logging
import math
import os

import numpy as np

from mipnet.data.errors import DataError
from mipnet.data.transforms import box_to_center_scale

logger = logging.getLogger(__name__)

__all__ = ['ANNOTATION_PATTERNS', 'RecordBuilder', 'load_annotations', 'load_json',
           'resolve_paths']

#: annotation files tried (relative to the root, formatted with the set name) by default
ANNOTATION_PATTERNS = ('annotations/person_keypoints_{}.json',)


def load_json(path, what='annotation file'):
    """Read a JSON (or gzip-compressed ``.json.gz``) file.

    Raises:
        DataError: the file is missing, unreadable, truncated or not valid JSON.
    """
    if not os.path.isfile(path):
        raise DataError(f'{what} not found: {path}. Check the path (or DATASET.ROOT and the '
                        'set name) in the config.')
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rt', encoding='utf-8') as f:
            return json.load(f)
    except (ValueError, EOFError, OSError) as exc:  # JSONDecodeError, bad gzip, truncation
        raise DataError(f'{what} {path} could not be parsed as JSON ({exc}); the file is '
                        'probably truncated or corrupt: download or generate it again.') from None


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def resolve_paths(cfg, is_train, root=None, name='coco',
                  annotation_patterns=ANNOTATION_PATTERNS):
    """(image_dir, annotation_file) for the split.

    Explicit ``DATASET.{TRAIN,TEST}_IMAGE_DIR`` / ``_ANNOTATION_FILE`` win; otherwise the
    root (``root`` argument, else ``DATASET.ROOT``) + set name: images under
    ``images/<set>/`` if present else ``<set>/``, annotations from
    :attr:`annotation_patterns`.

    Raises:
        DataError: no root and no explicit path, or none of the candidates exists (the
            message lists the paths tried).
    """
    split = 'TRAIN' if is_train else 'TEST'
    image_set = cfg.DATASET[f'{split}_SET']
    image_dir = cfg.DATASET[f'{split}_IMAGE_DIR']
    ann_file = cfg.DATASET[f'{split}_ANNOTATION_FILE']
    root = root if root is not None else cfg.DATASET.ROOT
    if (not image_dir or not ann_file) and not root:
        raise DataError(f'set DATASET.ROOT or both DATASET.{split}_IMAGE_DIR and '
                        f'DATASET.{split}_ANNOTATION_FILE to locate the {name} '
                        f'{image_set} data.')
    if not image_dir:
        tried = [os.path.join(root, 'images', image_set), os.path.join(root, image_set)]
        image_dir = next((p for p in tried if os.path.isdir(p)), None)
        if image_dir is None:
            raise DataError(f'no image folder for set {image_set!r}; tried: '
                            f'{", ".join(tried)}. Check DATASET.ROOT and '
                            f'DATASET.{split}_SET or set DATASET.{split}_IMAGE_DIR.')
    if not ann_file:
        tried = [os.path.join(root, p.format(image_set)) for p in annotation_patterns]
        ann_file = next((p for p in tried if os.path.isfile(p)), None)
        if ann_file is None:
            raise DataError(f'no annotation file for set {image_set!r}; tried: '
                            f'{", ".join(tried)}. Check DATASET.ROOT and '
                            f'DATASET.{split}_SET or set DATASET.{split}_ANNOTATION_FILE.')
    return image_dir, ann_file


def _first_duplicate(entries, key):
    """(index, value, index of its first occurrence) of the first entry whose ``key`` value
    was seen before, or None. Entries without the key are not compared."""
    seen = {}
    for i, entry in enumerate(entries):
        value = entry.get(key) if isinstance(entry, dict) else None
        if value is None or isinstance(value, (dict, list)):
            continue
        if value in seen:
            return i, value, seen[value]
        seen[value] = i
    return None


def load_annotations(path, for_evaluation=False):
    """Parse and validate the annotation file.

    Image ids and annotation ids must be unique: a second image record with the same id (and
    another file), or a repeated annotation record, would silently change the training data
    and the AP. With ``for_evaluation``, the file must also hold the ``categories`` list the
    COCO evaluation reads (checked here, before any inference).

    Returns:
        (images: dict image_id -> image entry in file order,
         anns_by_image: dict image_id -> list of annotations in file order)

    Raises:
        DataError: naming the file and the first offending record.
    """
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get('images'), list) \
            or not isinstance(data.get('annotations'), list):
        raise DataError(f'annotation file {path} is not in COCO format: expected a JSON '
                        'object with "images" and "annotations" lists.')
    if for_evaluation and not (isinstance(data.get('categories'), list) and any(
            isinstance(c, dict) and c.get('id') == 1 for c in data['categories'])):
        raise DataError(f'annotation file {path} has no "categories" list with the person '
                        'category (id 1), which the COCO keypoint evaluation needs: add '
                        '"categories": [{"id": 1, "name": "person", "keypoints": [...], '
                        '"skeleton": [...]}] as in the COCO files.')
    images = {}
    for i, im in enumerate(data['images']):
        if not isinstance(im, dict) or not _is_int(im.get('id')) \
                or not _is_number(im.get('width')) or not _is_number(im.get('height')):
            raise DataError(f'annotation file {path}: images[{i}] needs an integer "id" and '
                            'numeric "width" and "height".')
        images.setdefault(im['id'], im)
    duplicate = _first_duplicate(data['images'], 'id')
    if duplicate is not None:
        i, image_id, first = duplicate
        raise DataError(f'annotation file {path}: images[{i}] repeats image id {image_id} of '
                        f'images[{first}] ({data["images"][first].get("file_name")!r}, then '
                        f'{data["images"][i].get("file_name")!r}); image ids must be unique.')
    duplicate = _first_duplicate(data['annotations'], 'id')
    if duplicate is not None:
        i, ann_id, first = duplicate
        raise DataError(f'annotation file {path}: annotations[{i}] repeats annotation id '
                        f'{ann_id!r} of annotations[{first}]; annotation ids must be unique '
                        '(a repeated record counts one person twice).')
    anns_by_image = {}
    for i, ann in enumerate(data['annotations']):
        if not isinstance(ann, dict) or 'image_id' not in ann:
            raise DataError(f'annotation file {path}: annotations[{i}] is not an object '
                            'with an "image_id".')
        if ann['image_id'] not in images:
            raise DataError(f'annotation file {path}: annotations[{i}] (id '
                            f'{ann.get("id")}) refers to image_id {ann["image_id"]!r} '
                            'that is not in "images".')
        anns_by_image.setdefault(ann['image_id'], []).append(ann)
    return images, anns_by_image


class RecordBuilder:
    """Box records of one dataset split.

    Args:
        name: dataset name (in messages).
        num_joints: J, keypoints per person in the annotation file.
        num_instances: N, instances per record.
        aspect_ratio: width / height of the network input (boxes are padded to it).
        annotation_file: path of the annotation file (in messages).
        image_dir: folder of the images.
        data_format: image file extension used when an image entry has no ``file_name``.
        scale_mult: box enlargement (``TEST.SCALE_THRE`` where the reference reads it).
    """

    def __init__(self, name, num_joints, num_instances, aspect_ratio, annotation_file,
                 image_dir, data_format='jpg', scale_mult=1.25):
        self.name = name
        self.scale_mult = float(scale_mult)
        self.num_joints = int(num_joints)
        self.num_instances = int(num_instances)
        self.aspect_ratio = float(aspect_ratio)
        self.annotation_file = annotation_file
        self.image_dir = image_dir
        self.data_format = data_format

    def image_path(self, image):
        """Image file path of an image entry (its ``file_name``, else ``%012d.<format>``)."""
        name = image.get('file_name') or f'{image["id"]:012d}.{self.data_format}'
        return os.path.join(self.image_dir, name)

    def person_boxes(self, path, image, anns, counts):
        """Valid people of one image: list of (ann, center, scale, joints (J,3), vis (J,3))."""
        num_j = self.num_joints
        width, height = image['width'], image['height']
        people = []
        for ann in anns:
            if ann.get('category_id') != 1:
                counts['other category'] += 1
                continue
            if ann.get('iscrowd', 0):
                counts['crowd'] += 1
                continue
            kps = ann.get('keypoints')
            if not isinstance(kps, list) or len(kps) != 3 * num_j:
                n = len(kps) if isinstance(kps, list) else type(kps).__name__
                raise DataError(f'annotation file {path}: annotation id {ann.get("id")} has '
                                f'{n} keypoint values; {self.name} needs 3 x {num_j} = '
                                f'{3 * num_j}. Is MODEL/DATASET set for the right dataset?')
            bbox = ann.get('bbox')
            if not isinstance(bbox, list) or len(bbox) != 4 or not all(map(_is_number, bbox)):
                raise DataError(f'annotation file {path}: annotation id {ann.get("id")} has no '
                                'valid "bbox" [x, y, w, h].')
            try:
                kps = np.asarray(kps, dtype=np.float64).reshape(num_j, 3)
            except (TypeError, ValueError):
                raise DataError(f'annotation file {path}: annotation id {ann.get("id")} has '
                                'non-numeric keypoint values.') from None
            bad = ~np.isfinite(kps).all(axis=1)
            if bad.any():
                # NaN / Inf coordinates would reach the targets (a NaN loss) and the OKS of
                # evaluation; such joints count as unlabelled, as evaluation treats them.
                counts['non-finite keypoints (joints unlabelled)'] += int(bad.sum())
                kps[bad] = 0.0
            if not np.any(kps[:, 2] > 0):
                counts['no keypoints'] += 1
                continue
            x, y, w, h = bbox
            if w <= 0 or h <= 0:
                counts['degenerate box'] += 1
                continue
            x1 = max(0, x)
            y1 = max(0, y)
            x2 = min(width - 1, x1 + max(0, w - 1))
            y2 = min(height - 1, y1 + max(0, h - 1))
            area = ann['area'] if _is_number(ann.get('area')) else (x2 - x1) * (y2 - y1)
            if not (area > 0 and x2 >= x1 and y2 >= y1):
                counts['degenerate box'] += 1
                continue
            center, scale = box_to_center_scale(x1, y1, x2 - x1, y2 - y1, self.aspect_ratio,
                                                self.scale_mult)
            joints = np.zeros((num_j, 3), dtype=np.float32)
            joints[:, :2] = kps[:, :2]
            vis = np.zeros((num_j, 3), dtype=np.float32)
            vis[:, :2] = np.minimum(kps[:, 2:3], 1)
            people.append((ann, center, scale, joints, vis))
        return people

    def ground_truth(self, images, anns_by_image):
        """One record per valid person, with the nearest other people as instances 1..N-1."""
        counts = {'other category': 0, 'crowd': 0, 'no keypoints': 0, 'degenerate box': 0,
                  'non-finite keypoints (joints unlabelled)': 0}
        n_inst = self.num_instances
        db = []
        for image_id, image in images.items():
            people = self.person_boxes(self.annotation_file, image,
                                        anns_by_image.get(image_id, ()), counts)
            if not people:
                continue
            path = self.image_path(image)
            centers = np.stack([p[1] for p in people]).astype(np.float64)
            all_joints = np.stack([p[3] for p in people])
            all_vis = np.stack([p[4] for p in people])
            ann_ids = [p[0].get('id', -1) for p in people]
            for i, (ann, center, scale, _, _) in enumerate(people):
                d2 = np.sum((centers - centers[i]) ** 2, axis=1)
                d2[i] = -1.0  # instance 0 first
                order = np.argsort(d2, kind='stable')[:n_inst]
                valid = np.zeros(n_inst, dtype=np.float32)
                valid[:len(order)] = 1.0
                order = np.concatenate([order, np.full(n_inst - len(order), i, dtype=np.int64)])
                db.append({
                    'image': path,
                    'image_id': int(image_id),
                    'ann_id': int(ann.get('id', -1)),
                    'center': center,
                    'scale': scale,
                    'score': 1.0,
                    'joints': all_joints[order].copy(),
                    'joints_vis': all_vis[order].copy(),
                    'instance_valid': valid,
                    'instance_ann_ids': [ann_ids[k] for k in order],
                })
        dropped = {k: v for k, v in counts.items() if v}
        if dropped:
            logger.info('=> %s: %d person boxes kept; skipped %s', self.annotation_file, len(db),
                        ', '.join(f'{v} {k}' for k, v in dropped.items()))
        return db

    def detections(self, bbox_file, images, image_thre):
        """Records for detection boxes (evaluation): instance 0 is a zero placeholder."""
        dets = load_json(bbox_file, 'detection file')
        if not isinstance(dets, list):
            raise DataError(f'detection file {bbox_file} must be a COCO results list of '
                            '{image_id, category_id, bbox, score} records.')
        n_inst, num_j = self.num_instances, self.num_joints
        valid = np.zeros(n_inst, dtype=np.float32)
        valid[0] = 1.0
        counts = {'other category': 0, 'below TEST.IMAGE_THRE': 0, 'degenerate box': 0,
                  'non-finite box': 0}
        db = []
        for i, det in enumerate(dets):
            if not isinstance(det, dict) or not all(k in det for k in
                                                    ('image_id', 'category_id', 'bbox', 'score')):
                raise DataError(f'detection file {bbox_file}: record {i} lacks one of image_id, '
                                f'category_id, bbox, score: {str(det)[:200]}')
            bbox, score = det['bbox'], det['score']
            if not isinstance(bbox, list) or len(bbox) != 4 or not all(map(_is_number, bbox)):
                raise DataError(f'detection file {bbox_file}: record {i} has an invalid bbox '
                                f'{bbox!r}; expected [x, y, w, h] numbers.')
            if not _is_number(score) or not 0.0 <= score <= 1.0:
                raise DataError(f'detection file {bbox_file}: record {i} has score {score!r} '
                                'outside [0, 1].')
            image = images.get(det['image_id'])
            if image is None:
                raise DataError(f'detection file {bbox_file}: record {i} refers to image_id '
                                f'{det["image_id"]!r}, which is not in the annotation file '
                                f'{self.annotation_file}. Do the detections belong to this set?')
            if det['category_id'] != 1:
                counts['other category'] += 1
                continue
            if score < image_thre:
                counts['below TEST.IMAGE_THRE'] += 1
                continue
            x, y, w, h = bbox
            if not (w > 0 and h > 0 and x < image['width'] and y < image['height']
                    and x + w > 0 and y + h > 0):
                counts['degenerate box'] += 1
                continue
            with np.errstate(over='ignore', invalid='ignore'):
                center, scale = box_to_center_scale(x, y, w, h, self.aspect_ratio,
                                                    self.scale_mult)
            if not (np.isfinite(center).all() and np.isfinite(scale).all()):
                # e.g. [1, 1, 1e308, 1e308]: beyond float32, its crop would be all NaN.
                counts['non-finite box'] += 1
                continue
            db.append({
                'image': self.image_path(image),
                'image_id': int(det['image_id']),
                'ann_id': -1,
                'center': center,
                'scale': scale,
                'score': float(score),
                'joints': np.zeros((n_inst, num_j, 3), dtype=np.float32),
                'joints_vis': np.zeros((n_inst, num_j, 3), dtype=np.float32),
                'instance_valid': valid.copy(),
                'instance_ann_ids': [-1] * n_inst,
            })
        logger.info('=> %s: %d of %d detections kept; skipped %s', bbox_file, len(db), len(dets),
                    ', '.join(f'{v} {k}' for k, v in counts.items()))
        return db
