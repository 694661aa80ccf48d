"""COCO-style keypoint datasets with multi-instance (MIPNet) targets.

One base class, :class:`COCOStyleDataset`, reads any COCO-format keypoint annotation file;
COCO, CrowdPose, OCHuman and the synthetic crowded scenes differ only in their
:class:`~mipnet.data.metadata.KeypointMeta` (and in where CrowdPose keeps its annotations).

A sample is one person box. Instance 0 is the box's own person; instances 1..N-1 are the
other people of the same image, nearest box center first (MIPNet's multi-instance targets).
"""
import gzip
import json
import logging
import math
import os

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mipnet.data.augment import random_box_augmentation, select_data
from mipnet.data.errors import DataError
from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.targets import IMAGENET_MEAN, IMAGENET_STD, BatchMaker, normalize_crops
from mipnet.data.transforms import (affine_transform_points, box_to_center_scale, flip_joints,
                                    get_affine_transform)

logger = logging.getLogger(__name__)

__all__ = ['COCOStyleDataset', 'COCODataset', 'CrowdPoseDataset', 'OCHumanDataset',
           'SyntheticDataset', 'IMAGENET_MEAN', 'IMAGENET_STD', 'load_json', 'normalize_image',
           'decode_image']

_IMREAD_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def normalize_image(crop, color_rgb):
    """BGR uint8 (H, W, 3) NumPy crop -> float32 (3, H, W) NumPy network input: RGB channel
    order when ``color_rgb``, ImageNet mean/std per channel index
    (:func:`~mipnet.data.targets.normalize_crops`, which training runs batched on its
    device; evaluation and the demo run it here)."""
    return normalize_crops(torch.from_numpy(crop), color_rgb).numpy()


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


# A JPEG ends with the EOI marker; byte stuffing keeps it out of the compressed data, so a
# file cut short has none near its end (trailing padding after EOI is tolerated).
_JPEG_SOI, _JPEG_EOI, _JPEG_TAIL = b'\xff\xd8', b'\xff\xd9', 4096


def decode_image(path):
    """Read an image file as BGR uint8 (H, W, 3).

    Returns:
        (image, None) on success, or (None, reason) when the file is missing, empty,
        undecodable, oversized (a header claiming more than OpenCV's pixel limit), or a JPEG
        cut short (OpenCV would silently return a half-grey image). Never raises: training,
        evaluation and the demo treat every such file as one bad input.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None, 'does not exist' if not os.path.exists(path) else 'cannot be read'
    if data.size == 0:
        return None, 'is empty (0 bytes)'
    try:
        img = cv2.imdecode(data, _IMREAD_FLAGS)
    except cv2.error as exc:
        # OpenCV refuses (rather than returns None for) a header claiming more pixels than
        # CV_IO_MAX_IMAGE_PIXELS, or dimensions its decoder rejects.
        detail = str(exc).strip().splitlines()[-1].split('error: ', 1)[-1]
        return None, f'could not be decoded by OpenCV (oversized or malformed header: {detail})'
    truncated = data[:2].tobytes() == _JPEG_SOI and \
        _JPEG_EOI not in data[-_JPEG_TAIL:].tobytes()
    if img is None:
        return None, 'could not be decoded by OpenCV (' + \
            ('truncated: JPEG without its end marker)' if truncated else
             'corrupt or not an image)')
    if truncated:
        return None, 'is truncated (JPEG without its end marker)'
    return img, None


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class COCOStyleDataset(Dataset):
    """Top-down keypoint dataset over a COCO-format annotation file.

    Items are ``(image, target, target_weight, meta)`` (made on the CPU):

    * ``image``: float32 tensor (3, H, W), ImageNet-normalised, RGB when
      ``DATASET.COLOR_RGB`` else BGR channel order;
    * ``target``: float32 tensor (N, J, h, w) Gaussian heatmaps, one stack per instance;
    * ``target_weight``: float32 tensor (N, J, 1);
    * ``meta``: dict with 'image' (str), 'image_id' (int), 'ann_id' (int, -1 for detection
      boxes), 'center' (float32 (2,)), 'scale' (float32 (2,)), 'rotation' (float), 'score'
      (float), 'joints' (float32 (N, J, 3): crop x, y, 0), 'joints_vis' (float32 (N, J, 3)),
      'instance_valid' (float32 (N,): 1 where slot k holds a genuine person, 0 where it
      repeats instance 0), 'index' (int: the record returned, which differs from the
      requested index when a broken image was skipped).

    with N = ``MODEL.NUM_INSTANCES``, J = ``MODEL.NUM_JOINTS``, (W, H) = ``MODEL.IMAGE_SIZE``
    and (w, h) = ``MODEL.HEATMAP_SIZE``.

    With ``device_targets`` the items are ``(crop, meta)`` instead: ``crop`` the uint8 (H, W,
    3) BGR tensor of one ``warpAffine``, ``meta`` as above. A DataLoader worker then does only
    decode, augmentation geometry and the warp, and ships a seventh of the bytes;
    :class:`~mipnet.data.targets.BatchMaker` (``BatchMaker.for_dataset(ds, device)``) turns
    the collated batch into the same images and targets on the training device.

    Attributes:
        meta: the dataset's :class:`KeypointMeta`.
        annotation_file, image_dir: resolved paths.
        num_instances: N.
        box_source: 'ground-truth boxes' or 'detections from <file>'.
        db: list of per-box records (plain dicts; arrays 'joints'/'joints_vis' (N, J, 3),
            'instance_valid' (N,), 'center'/'scale' (2,), plus 'image', 'image_id', 'ann_id',
            'score', 'instance_ann_ids' (list of N ints)).
        skipped_images: number of distinct unreadable images skipped so far in this process
            (``DATASET.SKIP_BROKEN_IMAGES``); DataLoader workers count separately.
    """

    #: registry name, also the KeypointMeta name
    name = 'coco'
    #: annotation files tried (relative to the root) when none is given explicitly
    annotation_patterns = ('annotations/person_keypoints_{}.json',)

    def __init__(self, cfg, is_train, image_dir, annotation_file, device_targets=False):
        self.meta = get_keypoint_meta(self.name)
        self.device_targets = bool(device_targets)
        self.is_train = bool(is_train)
        self.image_dir = image_dir
        self.annotation_file = annotation_file
        self.num_instances = int(cfg.MODEL.NUM_INSTANCES)
        self.num_joints = self.meta.num_joints
        if int(cfg.MODEL.NUM_JOINTS) != self.num_joints:
            raise DataError(f'MODEL.NUM_JOINTS = {cfg.MODEL.NUM_JOINTS} but dataset '
                            f'{self.name!r} has {self.num_joints} keypoints; set '
                            f'MODEL.NUM_JOINTS {self.num_joints}.')
        self.image_size = np.array(cfg.MODEL.IMAGE_SIZE, dtype=np.int64)
        self.heatmap_size = np.array(cfg.MODEL.HEATMAP_SIZE, dtype=np.int64)
        self.aspect_ratio = float(self.image_size[0]) / float(self.image_size[1])
        self.sigma = cfg.MODEL.SIGMA
        self.color_rgb = bool(cfg.DATASET.COLOR_RGB)
        self.data_format = cfg.DATASET.DATA_FORMAT
        self.flip = bool(cfg.DATASET.FLIP)
        self.scale_factor = float(cfg.DATASET.SCALE_FACTOR)
        self.rotation_factor = float(cfg.DATASET.ROT_FACTOR)
        self.prob_half_body = float(cfg.DATASET.PROB_HALF_BODY)
        self.num_joints_half_body = int(cfg.DATASET.NUM_JOINTS_HALF_BODY)
        self.skip_broken_images = bool(cfg.DATASET.SKIP_BROKEN_IMAGES)
        self.joint_weights = (np.array(self.meta.joint_weights, dtype=np.float32)
                              if cfg.LOSS.USE_DIFFERENT_JOINTS_WEIGHT else None)
        self.upper_body_mask = np.zeros(self.num_joints, dtype=bool)
        self.upper_body_mask[list(self.meta.upper_body_ids)] = True
        self._broken = set()
        self._cpu_maker = None

        if not os.path.isdir(image_dir):
            raise DataError(f'image folder not found: {image_dir}. Set DATASET.ROOT (images '
                            'under images/<set>/ or <set>/) or the explicit '
                            'DATASET.TRAIN_IMAGE_DIR / TEST_IMAGE_DIR.')
        images, anns_by_image = self._load_annotations(annotation_file)
        self.images = images
        self.use_gt_bbox = self.is_train or bool(cfg.TEST.USE_GT_BBOX)
        if self.use_gt_bbox:
            self.box_source = 'ground-truth boxes'
            db = self._gt_db(images, anns_by_image)
            if self.is_train and cfg.DATASET.SELECT_DATA:
                db = select_data(db)
        else:
            bbox_file = cfg.TEST.COCO_BBOX_FILE
            if not bbox_file:
                raise DataError('TEST.USE_GT_BBOX is false but TEST.COCO_BBOX_FILE is empty: '
                                'give a COCO-results file of person detections or set '
                                'TEST.USE_GT_BBOX true.')
            self.box_source = f'detections from {bbox_file}'
            db = self._detection_db(bbox_file, images, float(cfg.TEST.IMAGE_THRE))
        if not db:
            raise DataError(f'dataset {self.name!r} from {annotation_file} ({self.box_source}) '
                            'has no usable person box after filtering (persons, non-crowd, '
                            'with keypoints, non-degenerate box, detection score threshold); '
                            'check the annotation/detection files and the config.')
        self.db = db
        logger.info('=> %s %s: %d boxes from %d images (%s), %d instances per box',
                    self.name, 'train' if self.is_train else 'val', len(db), len(images),
                    self.box_source, self.num_instances)

    # ------------------------------------------------------------------ paths
    @classmethod
    def resolve_paths(cls, cfg, is_train, root=None):
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
                            f'DATASET.{split}_ANNOTATION_FILE to locate the {cls.name} '
                            f'{image_set} data.')
        if not image_dir:
            tried = [os.path.join(root, 'images', image_set), os.path.join(root, image_set)]
            image_dir = next((p for p in tried if os.path.isdir(p)), None)
            if image_dir is None:
                raise DataError(f'no image folder for set {image_set!r}; tried: '
                                f'{", ".join(tried)}. Check DATASET.ROOT and '
                                f'DATASET.{split}_SET or set DATASET.{split}_IMAGE_DIR.')
        if not ann_file:
            tried = [os.path.join(root, p.format(image_set)) for p in cls.annotation_patterns]
            ann_file = next((p for p in tried if os.path.isfile(p)), None)
            if ann_file is None:
                raise DataError(f'no annotation file for set {image_set!r}; tried: '
                                f'{", ".join(tried)}. Check DATASET.ROOT and '
                                f'DATASET.{split}_SET or set DATASET.{split}_ANNOTATION_FILE.')
        return image_dir, ann_file

    # ------------------------------------------------------------ annotations
    def _load_annotations(self, path):
        """Parse and validate the annotation file.

        Returns:
            (images: dict image_id -> image entry in file order,
             anns_by_image: dict image_id -> list of annotations in file order)
        """
        data = load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get('images'), list) \
                or not isinstance(data.get('annotations'), list):
            raise DataError(f'annotation file {path} is not in COCO format: expected a JSON '
                            'object with "images" and "annotations" lists.')
        images = {}
        for i, im in enumerate(data['images']):
            if not isinstance(im, dict) or not _is_int(im.get('id')) \
                    or not _is_number(im.get('width')) or not _is_number(im.get('height')):
                raise DataError(f'annotation file {path}: images[{i}] needs an integer "id" and '
                                'numeric "width" and "height".')
            images[im['id']] = im
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

    def image_path(self, image):
        """Image file path of an image entry (its ``file_name``, else ``%012d.<format>``)."""
        name = image.get('file_name') or f'{image["id"]:012d}.{self.data_format}'
        return os.path.join(self.image_dir, name)

    def _person_boxes(self, path, image, anns, counts):
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
            center, scale = box_to_center_scale(x1, y1, x2 - x1, y2 - y1, self.aspect_ratio)
            joints = np.zeros((num_j, 3), dtype=np.float32)
            joints[:, :2] = kps[:, :2]
            vis = np.zeros((num_j, 3), dtype=np.float32)
            vis[:, :2] = np.minimum(kps[:, 2:3], 1)
            people.append((ann, center, scale, joints, vis))
        return people

    def _gt_db(self, images, anns_by_image):
        """One record per valid person, with the nearest other people as instances 1..N-1."""
        counts = {'other category': 0, 'crowd': 0, 'no keypoints': 0, 'degenerate box': 0,
                  'non-finite keypoints (joints unlabelled)': 0}
        n_inst = self.num_instances
        db = []
        for image_id, image in images.items():
            people = self._person_boxes(self.annotation_file, image,
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

    def _detection_db(self, bbox_file, images, image_thre):
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
                center, scale = box_to_center_scale(x, y, w, h, self.aspect_ratio)
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

    # ----------------------------------------------------------------- samples
    @property
    def skipped_images(self):
        return len(self._broken)

    def __len__(self):
        return len(self.db)

    def _read_image(self, path):
        """BGR uint8 (H, W, 3) image, or None when it is broken and skipping is on."""
        img, why = decode_image(path)
        if img is not None:
            return img
        msg = (f'image {path} {why}; restore the file or set DATASET.SKIP_BROKEN_IMAGES true '
               'to skip unreadable images.')
        if not self.skip_broken_images:
            raise DataError(msg)
        if path not in self._broken:
            self._broken.add(path)
            logger.warning('skipping broken image (%d so far): %s', len(self._broken), msg)
        return None

    def __getitem__(self, idx):
        n = len(self.db)
        for attempt in range(n):
            rec = self.db[(idx + attempt) % n]
            if rec['image'] in self._broken:
                continue
            img = self._read_image(rec['image'])
            if img is not None:
                crop, meta = self._make_crop(rec, img)
                # The record actually returned: evaluation keeps one prediction per record.
                meta['index'] = (idx + attempt) % n
                if self.device_targets:
                    return crop, meta
                return self._finish_on_cpu(crop, meta)
        raise DataError(f'no readable image in dataset {self.name!r} ({self.image_dir}).')

    def _finish_on_cpu(self, crop, meta):
        """(crop, meta) -> (image, target, target_weight, meta) with the batch code on the
        CPU, for a batch of one."""
        if self._cpu_maker is None:
            self._cpu_maker = BatchMaker.for_dataset(self)
        image, target, target_weight, _ = self._cpu_maker(
            (crop[None], {k: torch.from_numpy(meta[k][None]) for k in ('joints', 'joints_vis')}))
        return image[0], target[0], target_weight[0], meta

    def _make_crop(self, rec, img):
        """Crop and augment (training) record ``rec`` of BGR image ``img`` (H, W, 3) uint8.

        Returns:
            (crop uint8 tensor (H, W, 3) BGR, meta dict without 'index'), see the class
            docstring.
        """
        joints = rec['joints'].copy()        # (N, J, 3) image pixels
        joints_vis = rec['joints_vis'].copy()
        valid = rec['instance_valid'].copy()
        center, scale, rot = rec['center'].copy(), rec['scale'].copy(), 0.0
        img_w = img.shape[1]
        in_w, in_h = int(self.image_size[0]), int(self.image_size[1])

        do_flip = False
        if self.is_train:
            center, scale, rot, do_flip = random_box_augmentation(
                center, scale, joints[0], joints_vis[0], upper_body_mask=self.upper_body_mask,
                aspect_ratio=self.aspect_ratio, num_joints_half_body=self.num_joints_half_body,
                prob_half_body=self.prob_half_body, scale_factor=self.scale_factor,
                rotation_factor=self.rotation_factor, flip=self.flip)
            if do_flip:
                joints, joints_vis = flip_joints(joints, joints_vis, img_w, self.meta.flip_pairs)
                center[0] = img_w - center[0] - 1

        trans = get_affine_transform(center, scale, rot, self.image_size)
        if do_flip:
            # Warp the original image with trans o mirror instead of copying a flipped image.
            warp = np.empty_like(trans)
            warp[:, 0] = -trans[:, 0]
            warp[:, 1] = trans[:, 1]
            warp[:, 2] = trans[:, 0] * (img_w - 1) + trans[:, 2]
        else:
            warp = trans
        crop = cv2.warpAffine(img, warp, (in_w, in_h), flags=cv2.INTER_LINEAR)

        # Joints of all instances through the same matrix; outside the crop -> invisible.
        xy = affine_transform_points(joints[..., :2], trans)
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < in_w) & (xy[..., 1] >= 0) & (xy[..., 1] < in_h)
        joints_vis = joints_vis * inside[..., None]
        joints = np.zeros_like(joints)
        joints[..., :2] = xy * (joints_vis[..., :1] > 0)

        # A secondary instance with <= 3 visible joints in the crop repeats instance 0.
        weak = (np.count_nonzero(joints_vis[1:, :, 0] > 0, axis=1) <= 3) & (valid[1:] > 0)
        if weak.any():
            k = np.flatnonzero(weak) + 1
            joints[k], joints_vis[k], valid[k] = joints[0], joints_vis[0], 0.0

        meta = {
            'image': rec['image'],
            'image_id': rec['image_id'],
            'ann_id': rec['ann_id'],
            'center': np.asarray(center, dtype=np.float32),
            'scale': np.asarray(scale, dtype=np.float32),
            'rotation': float(rot),
            'score': float(rec['score']),
            'joints': joints.astype(np.float32, copy=False),
            'joints_vis': joints_vis.astype(np.float32, copy=False),
            'instance_valid': valid,
        }
        return torch.from_numpy(crop), meta


class COCODataset(COCOStyleDataset):
    """COCO person keypoints (17 joints)."""
    name = 'coco'


class CrowdPoseDataset(COCOStyleDataset):
    """CrowdPose (14 joints); annotations as ``person_keypoints_<set>.json`` or the official
    ``crowdpose_<set>.json``."""
    name = 'crowdpose'
    annotation_patterns = ('annotations/person_keypoints_{}.json',
                           'annotations/crowdpose_{}.json', 'json/crowdpose_{}.json',
                           'crowdpose_{}.json')


class OCHumanDataset(COCOStyleDataset):
    """OCHuman (COCO layout of 17 joints, heavy occlusion)."""
    name = 'ochuman'


class SyntheticDataset(COCOStyleDataset):
    """Synthetic crowded scenes written by tools/make_synthetic.py (COCO layout)."""
    name = 'synthetic'
