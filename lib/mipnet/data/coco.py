"""COCO-style keypoint datasets with multi-instance (MIPNet) targets.

One base class, :class:`COCOStyleDataset`, reads any COCO-format keypoint annotation file;
COCO, CrowdPose, OCHuman and the synthetic crowded scenes differ only in their
:class:`~mipnet.data.metadata.KeypointMeta` (and in where CrowdPose keeps its annotations).

A sample is one person box. Instance 0 is the box's own person; instances 1..N-1 are the
other people of the same image, nearest box center first (MIPNet's multi-instance targets).
:mod:`mipnet.data.records` builds the box records (annotation loading and validation,
ground-truth and detection boxes); this module makes samples of them (image decoding,
crop, augmentation, targets).
"""
import logging
import os

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mipnet.data.augment import random_box_augmentation, select_data
from mipnet.data.errors import DataError
from mipnet.data.image_cache import ImageCache
from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.records import ANNOTATION_PATTERNS, RecordBuilder, load_annotations, load_json
from mipnet.data.records import resolve_paths as _resolve_paths
from mipnet.data.targets import IMAGENET_MEAN, IMAGENET_STD, BatchMaker, normalize_crops
from mipnet.data.transforms import affine_transform_points, flip_joints, get_affine_transform

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
    the collated batch into the same images and targets on the training device. On an
    evaluation split (``is_train`` false) these are the evaluation items: ``meta`` holds only
    what inference reads, 'image', 'image_id', 'center', 'scale', 'score' and 'index' (no
    joints are transformed, no targets drawn).

    Attributes:
        meta: the dataset's :class:`KeypointMeta`.
        annotation_file, image_dir: resolved paths.
        num_instances: N.
        box_source: 'ground-truth boxes' or 'detections from <file>'.
        records: the :class:`~mipnet.data.records.RecordBuilder` that made ``db``.
        db: list of per-box records (plain dicts; arrays 'joints'/'joints_vis' (N, J, 3),
            'instance_valid' (N,), 'center'/'scale' (2,), plus 'image', 'image_id', 'ann_id',
            'score', 'instance_ann_ids' (list of N ints)).
        skipped_images: number of distinct unreadable images skipped so far in this process
            (``DATASET.SKIP_BROKEN_IMAGES``); DataLoader workers count separately.
    """

    #: registry name, also the KeypointMeta name
    name = 'coco'
    #: annotation files tried (relative to the root) when none is given explicitly
    annotation_patterns = ANNOTATION_PATTERNS
    #: training boxes enlarged by TEST.SCALE_THRE (True) or a fixed 1.25 (the reference's
    #: coco_lambda.py)
    train_scale_thre = False

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
        images, anns_by_image = load_annotations(annotation_file,
                                                 for_evaluation=not self.is_train)
        self.images = images
        # Box enlargement: TEST.SCALE_THRE where the reference's datasets read it (every
        # evaluation box, CrowdPose / OCHuman training boxes); its COCO training set
        # (coco_lambda.py) keeps a fixed 1.25.
        self.scale_mult = float(cfg.TEST.SCALE_THRE) \
            if not self.is_train or self.train_scale_thre else 1.25
        self.records = RecordBuilder(self.name, self.num_joints, self.num_instances,
                                     self.aspect_ratio, annotation_file, image_dir,
                                     self.data_format, self.scale_mult)
        self.use_gt_bbox = self.is_train or bool(cfg.TEST.USE_GT_BBOX)
        if self.use_gt_bbox:
            self.box_source = 'ground-truth boxes'
            db = self.records.ground_truth(images, anns_by_image)
            if self.is_train and cfg.DATASET.SELECT_DATA:
                db = select_data(db)
        else:
            bbox_file = cfg.TEST.COCO_BBOX_FILE
            if not bbox_file:
                raise DataError('TEST.USE_GT_BBOX is false but TEST.COCO_BBOX_FILE is empty: '
                                'give a COCO-results file of person detections or set '
                                'TEST.USE_GT_BBOX true.')
            self.box_source = f'detections from {bbox_file}'
            db = self.records.detections(bbox_file, images, float(cfg.TEST.IMAGE_THRE))
        if not db:
            raise DataError(f'dataset {self.name!r} from {annotation_file} ({self.box_source}) '
                            'has no usable person box after filtering (persons, non-crowd, '
                            'with keypoints, non-degenerate box, detection score threshold); '
                            'check the annotation/detection files and the config.')
        self.db = db
        self.image_cache = self._open_image_cache(cfg.DATASET.IMAGE_CACHE)
        logger.info('=> %s %s: %d boxes from %d images (%s), %d instances per box',
                    self.name, 'train' if self.is_train else 'val', len(db), len(images),
                    self.box_source, self.num_instances)

    def _open_image_cache(self, folder):
        """The :class:`ImageCache` of ``DATASET.IMAGE_CACHE`` (None when empty); logs how
        many of this dataset's images it holds and warns about the rest."""
        if not folder:
            return None
        cache = ImageCache(folder)
        paths = {rec['image'] for rec in self.db}
        missing = sum(1 for p in paths if p not in cache)
        if missing:
            logger.warning('%d of the %d images of %s %s are not in the image cache %s '
                           '(added since it was built, or unreadable then); they are decoded '
                           'from their files (rebuild the cache with tools/cache_images.py '
                           '--overwrite to include them).', missing, len(paths),
                           self.name, 'train' if self.is_train else 'val', cache.folder)
        else:
            logger.info('=> all %d images read from the image cache %s', len(paths),
                        cache.folder)
        return cache

    # ------------------------------------------------------------------ paths
    @classmethod
    def resolve_paths(cls, cfg, is_train, root=None):
        """(image_dir, annotation_file) for the split: :func:`mipnet.data.records.resolve_paths`
        with this class's name and :attr:`annotation_patterns`."""
        return _resolve_paths(cfg, is_train, root, cls.name, cls.annotation_patterns)

    def image_path(self, image):
        """Image file path of an image entry (its ``file_name``, else ``%012d.<format>``)."""
        return self.records.image_path(image)

    # ----------------------------------------------------------------- samples
    @property
    def skipped_images(self):
        return len(self._broken)

    def __len__(self):
        return len(self.db)

    def _read_image(self, path):
        """BGR uint8 (H, W, 3) image, or None when it is broken and skipping is on."""
        cache = self.image_cache
        img, why = cache.read(path) if cache is not None and path in cache else \
            decode_image(path)
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
        if self.device_targets and not self.is_train:
            return self._inference_crop(rec, img)
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


    def _inference_crop(self, rec, img):
        """The evaluation item: the box's crop and what inference reads (no joints, no
        augmentation); the crop is the one :meth:`_make_crop` makes without augmentation."""
        in_w, in_h = int(self.image_size[0]), int(self.image_size[1])
        trans = get_affine_transform(rec['center'], rec['scale'], 0.0, self.image_size)
        crop = cv2.warpAffine(img, trans, (in_w, in_h), flags=cv2.INTER_LINEAR)
        meta = {'image': rec['image'], 'image_id': rec['image_id'],
                'center': np.asarray(rec['center'], dtype=np.float32),
                'scale': np.asarray(rec['scale'], dtype=np.float32),
                'score': float(rec['score'])}
        return torch.from_numpy(crop), meta


class COCODataset(COCOStyleDataset):
    """COCO person keypoints (17 joints)."""
    name = 'coco'


class CrowdPoseDataset(COCOStyleDataset):
    """CrowdPose (14 joints); annotations as ``person_keypoints_<set>.json`` or the official
    ``crowdpose_<set>.json``."""
    name = 'crowdpose'
    train_scale_thre = True     # the reference's crowdpose_lambda.py
    annotation_patterns = ('annotations/person_keypoints_{}.json',
                           'annotations/crowdpose_{}.json', 'json/crowdpose_{}.json',
                           'crowdpose_{}.json')


class OCHumanDataset(COCOStyleDataset):
    """OCHuman (COCO layout of 17 joints, heavy occlusion)."""
    name = 'ochuman'
    train_scale_thre = True     # the reference's ochuman.py


class SyntheticDataset(COCOStyleDataset):
    """Synthetic crowded scenes written by tools/make_synthetic.py (COCO layout)."""
    name = 'synthetic'
