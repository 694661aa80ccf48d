"""PoseInferencer: every pose of every person in images, folders and videos.

Inference is the evaluation path: person boxes from a detector (:mod:`mipnet.apis.detectors`),
crops made as the dataset makes them, batched across boxes and images through
:class:`~mipnet.evaluation.inference.MultiInstancePredictor` (built by
:func:`~mipnet.evaluation.inference.predictor_from_cfg`: shared trunk and flip test as
configured),
then rescoring and OKS-NMS over every instance of every box of an image by
:func:`~mipnet.evaluation.postprocess.rescore_and_merge`.
"""
import logging
import math
import numbers
import os

import cv2
import numpy as np
import torch
from tqdm import tqdm

from mipnet.apis.detectors import InputError, build_detector, check_detections
from mipnet.config import ConfigError, load_config
from mipnet.data import DataError, eval_batch_size
from mipnet.data.coco import decode_image, normalize_image
from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.transforms import box_to_center_scale, get_affine_transform
from mipnet.utils.dist import resolve_device_type, setup_cpu_math

logger = logging.getLogger(__name__)

__all__ = ['PoseInferencer', 'make_crop', 'check_box', 'IMAGE_EXTS', 'VIDEO_EXTS',
           'STREAM_SCHEMES', 'CLIP_TOLERANCE', 'MAX_BOXES_PER_IMAGE', 'is_stream',
           'stream_name']

#: PoseInferencer backends
BACKENDS = ('pytorch', 'onnxruntime')
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')
#: URL schemes read as live streams through OpenCV's FFmpeg backend
STREAM_SCHEMES = ('rtsp://', 'rtsps://', 'rtmp://', 'http://', 'https://', 'udp://', 'tcp://')
# Boxes reaching at most this many pixels past the image are clipped silently (a box drawn
# to the last pixel column, or float round-off, is not a user mistake).
CLIP_TOLERANCE = 0.5
# Person boxes one image may have (PoseInferencer's ``max_boxes``). Crowded images hold
# tens of people and COCO detection files at most 100 per image; the OKS-NMS over all
# instances of all boxes of an image grows with the square of their number (about 2 s for
# 1000 boxes of 2 instances on one CPU core).
MAX_BOXES_PER_IMAGE = 1000


def make_crop(image, box, image_size, color_rgb, scale_mult=1.25):
    """The network input for one person box.

    Args:
        image: BGR uint8 (H, W, 3).
        box: [x, y, w, h] in pixels.
        image_size: (width, height) of the network input.
        color_rgb: ``DATASET.COLOR_RGB``.
        scale_mult: box enlargement (``TEST.SCALE_THRE``).

    Returns:
        (crop float32 (3, height, width), center (2,), scale (2,)) with the HRNet box
        convention: aspect ratio of the input, enlarged ``scale_mult`` times.
    """
    in_w, in_h = int(image_size[0]), int(image_size[1])
    center, scale = box_to_center_scale(*box, aspect_ratio=in_w / in_h, scale_mult=scale_mult)
    trans = get_affine_transform(center, scale, 0, (in_w, in_h))
    crop = cv2.warpAffine(image, trans, (in_w, in_h), flags=cv2.INTER_LINEAR)
    return normalize_image(crop, color_rgb), center, scale


def check_box(box, width, height, image_name):
    """Validate a box against its image and clip it to the image.

    Args:
        box: [x, y, w, h].
        width, height: image size.

    Returns:
        (clipped [x, y, w, h] floats, list of what changed, e.g. ``['x2 700 -> 665']``;
        empty when the box reaches at most :data:`CLIP_TOLERANCE` px past the image).

    Raises:
        InputError: w or h <= 0, non-finite values, or no overlap with the image.
    """
    x, y, w, h = (float(v) for v in box)
    shown = f'[{x:g}, {y:g}, {w:g}, {h:g}]'
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise InputError(f'box {shown} for image {image_name} has non-finite values')
    if w <= 0 or h <= 0:
        raise InputError(f'degenerate box {shown} for image {image_name}: width and height '
                         'must be > 0')
    edges = {'x1': (x, max(0.0, x)), 'y1': (y, max(0.0, y)),
             'x2': (x + w, min(float(width), x + w)), 'y2': (y + h, min(float(height), y + h))}
    x1, y1, x2, y2 = (new for _, new in edges.values())
    if x2 <= x1 or y2 <= y1:
        raise InputError(f'box {shown} lies outside image {image_name} ({width}x{height}); '
                         'boxes are [x, y, w, h] in pixels')
    changed = [f'{name} {old:.1f} -> {new:.1f}' for name, (old, new) in edges.items()
               if abs(old - new) > CLIP_TOLERANCE]
    if all(old == new for old, new in edges.values()):
        return [x, y, w, h], changed
    return [x1, y1, x2 - x1, y2 - y1], changed


def _is_real(value):
    return isinstance(value, (int, float, np.floating, np.integer)) \
        and not isinstance(value, bool) and math.isfinite(value)


def _numeric_stem(stem):
    return int(stem) if stem.isdigit() else None


def read_image(path):
    """BGR uint8 (H, W, 3) of an image file.

    Raises:
        InputError: missing, unreadable, undecodable or too large (OpenCV refuses images
            over ``CV_IO_MAX_IMAGE_PIXELS``) file.
    """
    if not os.path.exists(path):
        raise InputError(f'image not found: {path}')
    try:
        img, why = decode_image(path)
    except DataError as exc:
        raise InputError(str(exc)) from None
    except cv2.error as exc:
        # OpenCV refuses headers claiming more than CV_IO_MAX_IMAGE_PIXELS with an exception.
        why = ' '.join(str(exc).split()).split(' error: ')[-1]
        raise InputError(f'image {path} could not be decoded by OpenCV (too large or '
                         f'corrupt: {why})') from None
    if img is None:
        raise InputError(f'image {path} {why}')
    return img


def list_images(folder):
    """Sorted image files (by :data:`IMAGE_EXTS`) of a folder, not recursive. Videos in
    the folder are not read (a folder is a set of images): a warning names them."""
    names = sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))
    files = [f for f in names if f.lower().endswith(IMAGE_EXTS)]
    videos = [f for f in names if f.lower().endswith(VIDEO_EXTS)]
    if videos:
        shown = ', '.join(videos[:5]) + (f' (+{len(videos) - 5} more)' if len(videos) > 5
                                         else '')
        logger.warning('folder %s: %d video(s) not read (%s); a folder input reads its '
                       'images only, give each video as an input of its own', folder,
                       len(videos), shown)
    if not files:
        raise InputError(f'no images ({", ".join(IMAGE_EXTS)}) in folder {folder}' +
                         (' (only videos: give each video as an input of its own)'
                          if videos else ''))
    return [os.path.join(folder, f) for f in files]


def _path_item(path):
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    num = _numeric_stem(stem)
    return {'name': name, 'stem': stem, 'file': name, 'path': path, 'image_id': num,
            'keys': [name, stem, num, str(num) if num is not None else None]}


def _array_item(image, index):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f'image array {index} has shape {image.shape} and dtype '
                         f'{image.dtype}; expected BGR uint8 (H, W, 3)')
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f'image array {index} is empty (shape {image.shape}); expected '
                         'BGR uint8 (H, W, 3) with H, W >= 1')
    name = f'image_{index:06d}'
    return {'name': name, 'stem': name, 'file': name, 'path': None, 'image_id': index,
            'keys': [], 'image': image}


def _video_frames(path):
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise InputError(f'video {path} could not be opened (corrupt or unsupported codec)')
    name = os.path.basename(path)
    stem = os.path.splitext(name)[0]
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frame_name = f'{stem}_{index:06d}'
            yield {'name': frame_name, 'stem': stem, 'file': name, 'path': path,
                   'frame': index, 'image_id': index, 'image': frame,
                   'keys': [frame_name, index, str(index)]}
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise InputError(f'video {path} has no readable frame')


def video_fps(path):
    """Frames per second of a video file (25 when the file does not say)."""
    cap = cv2.VideoCapture(path)
    try:
        return cap.get(cv2.CAP_PROP_FPS) or 25.0
    finally:
        cap.release()


def is_stream(source):
    """True for a camera index (an int, or a string of digits such as ``'0'``) or a stream
    URL (:data:`STREAM_SCHEMES`)."""
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        return True
    if not isinstance(source, str):
        return False
    return source.isdigit() or source.lower().startswith(STREAM_SCHEMES)


def stream_name(source):
    """A file-name stem for a stream: ``camera0`` for camera 0, the last part of a URL's
    path (``rtsp://host/live/cam1`` -> ``cam1``), else ``stream``."""
    if not isinstance(source, str) or source.isdigit():
        return f'camera{int(source)}'
    tail = source.split('://', 1)[1].split('?', 1)[0].rstrip('/').rsplit('/', 1)
    stem = os.path.splitext(tail[1])[0] if len(tail) == 2 else ''
    stem = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in stem)
    return stem or 'stream'


def _stream_frames(source):
    """Frames of a camera or stream URL as they arrive, until the stream ends."""
    index = int(source) if not isinstance(source, str) or source.isdigit() else None
    shown = f'camera {index}' if index is not None else f'stream {source}'
    cap = cv2.VideoCapture(index if index is not None else source)
    if not cap.isOpened():
        raise InputError(f'{shown} could not be opened' + (
            ' (no camera with that index, or it is in use)' if index is not None else
            ' (unreachable, or not a video stream OpenCV can read)'))
    stem = stream_name(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    count = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            name = f'{stem}_{count:06d}'
            yield {'name': name, 'stem': stem, 'file': stem, 'path': None, 'frame': count,
                   'image_id': count, 'image': frame, 'keys': [name, count, str(count)],
                   'fps': fps, 'live': True}
            count += 1
    finally:
        cap.release()
    if count == 0:
        raise InputError(f'{shown} gave no frame')


def is_video(path):
    return isinstance(path, (str, os.PathLike)) and os.path.isfile(path) \
        and str(path).lower().endswith(VIDEO_EXTS)


class PoseInferencer:
    """Poses of every person in images, image folders and videos.

    Args:
        cfg: a loaded config or the path of an experiment YAML.
        checkpoint: weights file or ``zoo:NAME`` (:mod:`mipnet.zoo`; overrides
            ``TEST.MODEL_FILE``); None keeps the config's.
        device: 'cpu', 'cuda', 'npu' or 'auto' (overrides ``DEVICE``); None keeps the
            config's.
        detector: a name of :func:`~mipnet.apis.detectors.detector_names` ('none', 'file',
            'hog', 'onnx', the zoo's 'yolox-nano' ... 'yolox-x') built with
            ``detector_options``, or a callable
            ``detector(image, keys) -> (boxes (M, 4) xywh, scores (M,)) or None``.
        detector_options: constructor arguments of the named detector (e.g.
            ``{'model_file': 'yolox.onnx', 'score_thre': 0.5}``).
        instances: instance indices to run (None: all of the model).
        flip: flip test (None: ``TEST.FLIP_TEST``).
        batch_size: boxes per forward pass (None: ``TEST.BATCH_SIZE_PER_GPU``, at most
            ``TEST.CPU_BATCH_SIZE`` on the CPU); crops are made batch by batch, so memory
            does not grow with the number of boxes.
        score_thre: poses scoring below it are left out of the results (in [0, 1]).
        opts: extra config overrides (KEY VALUE list) when ``cfg`` is a path.
        max_boxes: an image with more person boxes than this is refused (InputError).
        progress: show a progress bar over the boxes when there are more than a batch.
        backend: 'pytorch' (the network, through the ``TEST.FUSE_BN`` /
            ``TEST.CHANNELS_LAST`` / ``TEST.COMPILE`` fast paths) or 'onnxruntime' (the
            shared-trunk ONNX graph of ``tools/export_onnx.py --graph instances``, see
            :mod:`mipnet.evaluation.onnxruntime_backend`).
        onnx_file: with 'onnxruntime', that graph; None exports the checkpoint's network
            to a temporary file first.

    Calling it with an image array (BGR uint8), a path of an image, folder or video, or a list
    of these yields one result per image or frame, in input order (see :meth:`__call__`).
    """

    def __init__(self, cfg, checkpoint=None, device=None, detector='none',
                 detector_options=None, instances=None, flip=None, batch_size=None,
                 score_thre=0.0, opts=None, max_boxes=MAX_BOXES_PER_IMAGE, progress=False,
                 backend='pytorch', onnx_file=None):
        from mipnet.evaluation.inference import predictor_from_cfg
        from mipnet.evaluation.postprocess import postprocess_options_from_cfg
        overrides = list(opts or [])
        if checkpoint is not None:
            overrides += ['TEST.MODEL_FILE', str(checkpoint)]
        if device:
            overrides += ['DEVICE', device]
        if flip is not None:
            overrides += ['TEST.FLIP_TEST', str(bool(flip))]
        if isinstance(cfg, (str, os.PathLike)):
            cfg = load_config(str(cfg), overrides)
        elif overrides:
            cfg = cfg.clone()
            cfg.defrost()
            cfg.merge_from_list(overrides)
            cfg.freeze()
        self.cfg = cfg
        try:
            self.meta = get_keypoint_meta(cfg.DATASET.TEST_DATASET or cfg.DATASET.DATASET)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.meta.num_joints != int(cfg.MODEL.NUM_JOINTS):
            raise ConfigError(f'MODEL.NUM_JOINTS = {cfg.MODEL.NUM_JOINTS} but the '
                              f'{self.meta.name} layout (DATASET.TEST_DATASET) has '
                              f'{self.meta.num_joints} joints')
        if batch_size is not None and not (isinstance(batch_size, numbers.Integral) and
                                           not isinstance(batch_size, bool) and batch_size > 0):
            raise InputError(f'batch size {batch_size!r} must be a positive integer')
        if not (_is_real(score_thre) and 0.0 <= score_thre <= 1.0):
            raise InputError(f'score threshold {score_thre!r} must be a number in [0, 1]')
        self.score_thre = float(score_thre)
        if not (isinstance(max_boxes, int) and not isinstance(max_boxes, bool)
                and max_boxes >= 1):
            raise InputError(f'max_boxes {max_boxes!r} must be an integer >= 1')
        self.max_boxes = max_boxes
        self.progress = bool(progress)
        self.detector = build_detector(detector, **(detector_options or {}))
        if backend not in BACKENDS:
            raise ConfigError(f'backend {backend!r}: valid are {", ".join(BACKENDS)}')
        if onnx_file is not None and backend != 'onnxruntime':
            raise ConfigError("onnx_file is the graph of backend='onnxruntime'")
        self.backend = backend
        self.device = torch.device(resolve_device_type(cfg.DEVICE))
        self.batch_size = int(batch_size or eval_batch_size(cfg, self.device))
        setup_cpu_math()
        self.model = self._build_model() if backend == 'pytorch' or onnx_file is None \
            else None
        runner = self.model if backend == 'pytorch' else self._onnx_model(onnx_file)
        self.predictor = predictor_from_cfg(cfg, runner, self.meta.flip_index)
        if self.predictor.pad_batch:
            # A compiled model sees every batch padded to the inferencer's batch size.
            self.predictor.pad_batch = self.batch_size
        if instances is not None:
            self.predictor.instances = self._check_instances(instances)
        self.options = postprocess_options_from_cfg(cfg)
        self.image_size = cfg.MODEL.IMAGE_SIZE
        self.color_rgb = bool(cfg.DATASET.COLOR_RGB)

    def _build_model(self):
        from mipnet.models import build_model, load_weights
        if not self.cfg.TEST.MODEL_FILE:
            raise ConfigError('TEST.MODEL_FILE is empty: pass the checkpoint (checkpoint=... '
                              'in Python, or TEST.MODEL_FILE output/.../model_best.pth on the '
                              'command line)')
        model = build_model(self.cfg, is_train=False)
        load_weights(model, self.cfg, self.cfg.TEST.MODEL_FILE)
        return model.to(self.device).eval()

    def _onnx_model(self, onnx_file):
        """The ONNX Runtime network of ``onnx_file`` (None: of ``self.model``, exported to a
        temporary file), checked against the config."""
        import tempfile
        from mipnet.evaluation.onnxruntime_backend import (OnnxBackendError, OnnxRuntimeModel,
                                                           export_instances_onnx,
                                                           require_onnxruntime)
        try:
            require_onnxruntime()
            if onnx_file is None:
                with tempfile.TemporaryDirectory(prefix='mipnet_onnx_') as tmp:
                    path = os.path.join(tmp, 'model.onnx')
                    export_instances_onnx(self.model, path, self.cfg.MODEL.IMAGE_SIZE)
                    model = OnnxRuntimeModel(path, self.device)
                self.model.to(self.device)
            else:
                model = OnnxRuntimeModel(os.fspath(onnx_file), self.device)
        except OnnxBackendError as exc:
            raise ConfigError(str(exc)) from None
        cfg = self.cfg
        expected = {'input size (width, height)': (tuple(int(v) for v in cfg.MODEL.IMAGE_SIZE),
                                                   model.image_size),
                    'joints (MODEL.NUM_JOINTS)': (int(cfg.MODEL.NUM_JOINTS), model.num_joints),
                    'λ model': (cfg.MODEL.NAME != 'pose_hrnet', model.uses_lambda)}
        if model.uses_lambda:
            expected['instances (MODEL.NUM_INSTANCES)'] = (int(cfg.MODEL.NUM_INSTANCES),
                                                           model.num_instances)
        wrong = [f'{what}: {got} in the graph, {want} in the config'
                 for what, (want, got) in expected.items() if want != got]
        if wrong:
            raise ConfigError(f'ONNX model {model.path} does not fit the config: '
                              + '; '.join(wrong))
        return model

    def _check_instances(self, instances):
        from mipnet.evaluation.inference import unwrap
        net = unwrap(self.predictor.model)
        available = net.num_instances if net.uses_lambda else 1
        instances = [int(k) for k in instances]
        bad = [k for k in instances if not 0 <= k < available]
        if not instances or bad:
            raise InputError(f'instances {instances}: this model has instances '
                             f'0..{available - 1}')
        return instances

    @property
    def instances(self):
        return list(self.predictor.instances)

    # ------------------------------------------------------------------ inputs
    def _items(self, inputs):
        """Input items in order; a file that cannot be read becomes an item with 'error'
        when it came from a folder or a list, and raises when it was the only input."""
        single = not isinstance(inputs, (list, tuple))
        sources = [inputs] if single else list(inputs)
        for index, src in enumerate(sources):
            if isinstance(src, np.ndarray):
                yield _array_item(src, index)
                continue
            if is_stream(src):
                yield from _stream_frames(src)
                continue
            if not isinstance(src, (str, os.PathLike)):
                raise InputError(f'input {index} is {type(src).__name__} {str(src)[:50]}; '
                                 'expected a BGR uint8 (H, W, 3) image array or the path of '
                                 'an image, a folder of images or a video')
            path = os.fspath(src)
            if os.path.isdir(path):
                for file in list_images(path):
                    yield self._read(_path_item(file), strict=False)
            elif is_video(path):
                yield from _video_frames(path)
            else:
                yield self._read(_path_item(path), strict=single)

    @staticmethod
    def _read(item, strict):
        try:
            item['image'] = read_image(item['path'])
        except InputError as exc:
            if strict:
                raise
            item['error'] = str(exc)
            logger.warning('skipping %s', exc)
        return item

    # ------------------------------------------------------------------ one image
    def _prepare(self, item):
        """Detect and check the boxes: adds 'boxes' (M, 4) (clipped to the image) and
        'box_scores' (M,).

        Raises:
            InputError: bad boxes, or more than ``max_boxes`` of them.
        """
        img = item['image']
        height, width = img.shape[:2]
        found = self.detector(img, item['keys'])
        if found is None:
            logger.warning('no boxes for %s in the %s: nothing to predict there',
                           item['name'], getattr(self.detector, 'description', 'detector'))
            found = (np.zeros((0, 4)), np.zeros(0))
        boxes_in, scores_in = check_detections(*found, backend=type(self.detector).__name__)
        if len(boxes_in) > self.max_boxes:
            raise InputError(f'{len(boxes_in)} person boxes for image {item["name"]}: more '
                             f'than the {self.max_boxes} one image may have (max_boxes; the '
                             "demo's --max-boxes). Are they the boxes of this image, and "
                             'were they filtered (score threshold, NMS)?')
        boxes = []
        for bbox in boxes_in:
            box, changed = check_box(bbox, width, height, item['name'])
            if changed:
                logger.info('box %s of %s extends past the image (%dx%d): clipped (%s)',
                            [round(float(v), 1) for v in bbox], item['name'], width, height,
                            ', '.join(changed))
            boxes.append(box)
        item['boxes'] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        item['box_scores'] = np.asarray(scores_in, dtype=np.float64).reshape(-1)
        return item

    def _predict(self, items):
        """Keypoints of all boxes of ``items``, cropped and run ``batch_size`` boxes at a
        time: sets 'keypoints' (M, K, J, 3), 'centers' and 'scales' (M, 2) of every item."""
        k, j = len(self.predictor.instances), self.meta.num_joints
        jobs = [(it, i) for it in items for i in range(len(it['boxes']))]
        for it in items:
            m = len(it['boxes'])
            it['keypoints'] = np.zeros((m, k, j, 3), np.float32)
            it['centers'] = np.zeros((m, 2), np.float32)
            it['scales'] = np.zeros((m, 2), np.float32)
        bar = tqdm(total=len(jobs), desc='poses', unit='box', leave=False, dynamic_ncols=True,
                   disable=not self.progress or len(jobs) <= self.batch_size)
        try:
            for start in range(0, len(jobs), self.batch_size):
                chunk = jobs[start:start + self.batch_size]
                crops, centers, scales = zip(*(make_crop(it['image'], it['boxes'][i],
                                                         self.image_size, self.color_rgb,
                                                         self.cfg.TEST.SCALE_THRE)
                                               for it, i in chunk))
                centers = np.asarray(centers, dtype=np.float32)
                scales = np.asarray(scales, dtype=np.float32)
                batch = torch.from_numpy(np.stack(crops)).to(self.device)
                kpts = self.predictor(batch, centers, scales)
                for row, (it, i) in enumerate(chunk):
                    it['keypoints'][i] = kpts[row]
                    it['centers'][i] = centers[row]
                    it['scales'][i] = scales[row]
                bar.update(len(chunk))
        finally:
            bar.close()

    def _merge(self, item):
        """COCO-style records of one image after rescoring and OKS-NMS, best first."""
        from mipnet.evaluation.postprocess import rescore_and_merge
        kpts = item['keypoints']  # (M, K, J, 3)
        m, k, j = kpts.shape[:3]
        if m == 0:
            return []
        instances = np.asarray(self.predictor.instances, dtype=np.int64)
        flat = kpts.reshape(m * k, j, 3).astype(np.float64)
        merged, rows = rescore_and_merge(
            flat[..., :2], flat[..., 2:], np.repeat(item['scales'], k, axis=0),
            np.repeat(item['box_scores'], k), np.zeros(m * k, dtype=np.int64),
            np.tile(instances, m), **self.options, sigmas=self.meta.sigmas_array,
            return_indices=True)
        poses = []
        for res, row in zip(merged, rows):
            score = float(np.clip(res['score'], 0.0, 1.0))
            if score < self.score_thre:
                continue
            box_index = int(row // k)
            pose = {'image': item['file'],
                    'image_id': item['image_id'] if item['image_id'] is not None else -1,
                    'category_id': 1,
                    'keypoints': [float(v) for v in res['keypoints']],
                    'score': score,
                    'instance': int(res['instance']),
                    'box_index': box_index,
                    'box': [round(float(v), 2) for v in item['boxes'][box_index]],
                    'box_score': float(item['box_scores'][box_index])}
            if 'frame' in item:
                pose['frame'] = int(item['frame'])
            poses.append(pose)
        return poses

    @staticmethod
    def _result(item, poses):
        result = {key: item[key]
                  for key in ('name', 'file', 'path', 'image_id', 'image', 'fps') if key in item}
        result['boxes'] = item.get('boxes', np.zeros((0, 4)))
        result['box_scores'] = item.get('box_scores', np.zeros(0))
        result['poses'] = poses
        result['error'] = item.get('error')
        if 'frame' in item:
            result['frame'] = item['frame']
        return result

    def __call__(self, inputs):
        """Yield one result per image or video frame, in input order.

        Args:
            inputs: BGR uint8 (H, W, 3) array, path of an image, a folder of images or a
                video, a camera index (``0`` or ``'0'``) or a stream URL (``rtsp://``,
                ``http://``, ...; :data:`STREAM_SCHEMES`), or a list of these. Camera and
                stream frames are read through OpenCV as they come, and each is answered
                before the next is read.

        Yields:
            dict with 'name', 'file', 'path', 'image_id', 'image' (BGR (H, W, 3)), 'frame'
            (videos, cameras, streams), 'fps' (cameras, streams),
            'boxes' (M, 4) ``[x, y, w, h]`` person boxes, 'box_scores' (M,),
            'poses' (list of COCO keypoint records with 'keypoints' [x, y, conf] * J,
            'score', 'instance' (the k that produced it), 'box_index' and 'box' (its person
            box), 'box_score'), and 'error' (None, or why a file of a folder or list could
            not be read; it then has no poses).

        Raises:
            InputError: a single input that is missing or unreadable, an unreadable video,
                bad boxes, a detector failure.
        """
        pending, count = [], 0
        for item in self._items(inputs):
            if item.get('error'):
                pending.append(item)
                continue
            pending.append(self._prepare(item))
            count += len(item['boxes'])
            # A live frame is answered at once, not held until a batch fills.
            if count >= self.batch_size or item.get('live'):
                yield from self._flush(pending)
                pending, count = [], 0
        yield from self._flush(pending)

    def _flush(self, pending):
        ready = [it for it in pending if not it.get('error')]
        if ready:
            self._predict(ready)
        for it in pending:
            yield self._result(it, [] if it.get('error') else self._merge(it))

    def draw(self, result, kpt_thre=None, scale=None):
        """The image of ``result`` with its poses: BGR uint8, ``scale`` times the image's
        size, with a legend strip under it.

        Every pose is labelled ``b<box> k=<instance> <score>`` beside its box, labels never
        covering each other; instance k >= 1 poses have hollow joints and a dashed box;
        input boxes are drawn thin and grey; the legend says what k = 0 and k >= 1 mean.
        Joints drawn above ``kpt_thre`` (default ``TEST.IN_VIS_THRE``). ``scale`` None
        upscales small images so that their shorter side is at least 512 px
        (:func:`mipnet.vis.draw.draw_scale`); the poses' coordinates stay in image pixels.
        """
        from mipnet.vis.draw import draw_poses, draw_scale
        kpt_thre = self.cfg.TEST.IN_VIS_THRE if kpt_thre is None else kpt_thre
        scale = draw_scale(result['image'].shape) if scale is None else float(scale)
        poses = result['poses']
        labels = [f'b{p["box_index"]} k={p["instance"]} {p["score"]:.2f}' for p in poses]
        return draw_poses(result['image'], poses, self.meta.skeleton, kpt_thre=kpt_thre,
                          boxes=result['boxes'], labels=labels, scale=scale,
                          legend=self.instances)
