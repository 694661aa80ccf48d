"""Person detectors for the inference API, chosen by name (:data:`DETECTORS`).

Every detector is called as ``detector(image, keys)`` with a BGR uint8 (H, W, 3) image and
the names the image can be looked up by (file name, stem, numeric id; empty for an array),
and returns ``(boxes, scores)``: float64 (M, 4) ``[x, y, w, h]`` pixels and (M,) scores, or
None when a boxes file has no entry for the image. :func:`check_detections` validates what a
backend returns before the pose network sees it.

Backends:
    ``none``: the whole image is one box.
    ``file``: boxes given by the user (``boxes``) or a boxes file (:class:`FileDetector`).
    ``hog``: OpenCV's HOG + linear SVM people detector; needs no model file and is weak
        (upright, unoccluded people taller than 128 px only).
    ``onnx``: a YOLOX / RTMDet person detector exported to ONNX, run with onnxruntime
        (:class:`ONNXDetector` lists the layouts it reads).
    ``yolox-nano`` ... ``yolox-x``: the ``onnx`` backend with rtmlib's YOLOX person detectors
        from the model zoo (:mod:`mipnet.zoo`: downloaded and verified on first use).
"""
import logging
import os

import cv2
import numpy as np

from mipnet import zoo
from mipnet.data import DataError
from mipnet.data.coco import load_json

logger = logging.getLogger(__name__)

__all__ = ['DETECTORS', 'InputError', 'build_detector', 'detector_names', 'check_detections',
           'nms_boxes', 'NoneDetector', 'FileDetector', 'HOGDetector', 'ONNXDetector']


class InputError(ValueError):
    """Bad inference input: image, video, boxes, detector model or option. The message
    names the thing and says what to do."""


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_detections(boxes, scores, backend):
    """Validate a backend's output.

    Args:
        boxes: array-like (M, 4) ``[x, y, w, h]``.
        scores: array-like (M,).
        backend: name used in the error message.

    Returns:
        (float64 (M, 4), float64 (M,)).

    Raises:
        InputError: wrong shapes, mismatched lengths or non-finite values.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if boxes.size == 0 and scores.size == 0:
        return np.zeros((0, 4)), np.zeros(0)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (len(boxes),):
        raise InputError(f'{backend} detector returned boxes of shape {boxes.shape} and '
                         f'scores of shape {scores.shape}; expected (M, 4) and (M,)')
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise InputError(f'{backend} detector returned non-finite boxes or scores')
    return boxes, scores


def nms_boxes(boxes, scores, iou_thre):
    """Greedy IoU NMS.

    Args:
        boxes: (M, 4) ``[x, y, w, h]``.
        scores: (M,).
        iou_thre: boxes overlapping a better one by more than this IoU are dropped.

    Returns:
        int64 indices of the kept boxes, best first.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = np.maximum(boxes[:, 2], 0) * np.maximum(boxes[:, 3], 0)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_thre]
    return np.asarray(keep, dtype=np.int64)


# ----------------------------------------------------------------------------- none
class NoneDetector:
    """The whole image as one person box of score 1."""

    description = 'the whole image'

    def __call__(self, image, keys=()):
        height, width = image.shape[:2]
        return np.array([[0.0, 0.0, float(width), float(height)]]), np.ones(1)


# ----------------------------------------------------------------------------- file
def _parse_entry(entry, where):
    """(bbox list of 4 floats, score float) from {"bbox", "score"} or [x, y, w, h]."""
    if isinstance(entry, dict):
        bbox, score = entry.get('bbox'), entry.get('score', 1.0)
    else:
        bbox, score = entry, 1.0
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(map(_is_number, bbox)):
        raise InputError(f'{where}: expected a box [x, y, w, h] of 4 numbers, got '
                         f'{str(bbox)[:100]}')
    if not _is_number(score):
        raise InputError(f'{where}: score {score!r} is not a number')
    return [float(v) for v in bbox], float(score)


class FileDetector:
    """Person boxes given by the user.

    Args:
        boxes: list of [x, y, w, h] used for every image, or None.
        boxes_file: path of a boxes JSON file, or None: a COCO annotation file (person
            boxes matched by file name), a COCO results list (``image_id`` matched to the
            numeric file name), a list of ``{"bbox", "score"}`` (or ``[x, y, w, h]``) for every
            image, or a dict from image name (or stem) to such a list.
        score_thre: results-list detections below it are dropped.

    Calling it returns None for an image the file has no entry for.
    """

    def __init__(self, boxes=None, boxes_file=None, score_thre=0.0):
        if boxes and boxes_file:
            raise InputError('give either boxes or a boxes file, not both')
        if not boxes and not boxes_file:
            raise InputError('the file detector needs boxes or a boxes file (--boxes / '
                             '--boxes-file)')
        self.everywhere = None      # list of (bbox, score) for every image
        self.by_key = None          # image name / stem / id -> list of (bbox, score)
        self.dropped = 0
        if boxes:
            self.everywhere = [_parse_entry(b, f'box {i}') for i, b in enumerate(boxes)]
            self.description = f'{len(boxes)} given box(es)'
        else:
            self._load(boxes_file, score_thre)

    def _load(self, path, score_thre):
        try:
            data = load_json(path, 'boxes file')
        except DataError as exc:
            raise InputError(str(exc)) from None
        self.description = f'boxes file {path}'
        if isinstance(data, dict) and isinstance(data.get('images'), list) \
                and isinstance(data.get('annotations'), list):
            names = {im.get('id'): os.path.basename(str(im.get('file_name', '')))
                     for im in data['images'] if isinstance(im, dict)}
            self.by_key = {}
            for i, ann in enumerate(data['annotations']):
                if not isinstance(ann, dict) or ann.get('category_id', 1) != 1 \
                        or ann.get('iscrowd', 0):
                    continue
                name = names.get(ann.get('image_id'))
                if not name:
                    raise InputError(f'boxes file {path}: annotations[{i}] refers to image_id '
                                     f'{ann.get("image_id")!r}, which is not in "images"')
                entry = _parse_entry({'bbox': ann.get('bbox'), 'score': ann.get('score', 1.0)},
                                     f'boxes file {path}, annotations[{i}]')
                self.by_key.setdefault(name, []).append(entry)
            self.description += ' (COCO annotations, matched by file name)'
        elif isinstance(data, dict):
            self.by_key = {}
            for key, entries in data.items():
                if not isinstance(entries, list):
                    raise InputError(f'boxes file {path}: entry {key!r} must be a list of '
                                     'boxes')
                self.by_key[str(key)] = [_parse_entry(e, f'boxes file {path}, {key!r}[{i}]')
                                         for i, e in enumerate(entries)]
            self.description += ' (per-image dict)'
        elif isinstance(data, list):
            with_id = [isinstance(d, dict) and 'image_id' in d for d in data]
            if data and all(with_id):
                self.by_key = {}
                for i, det in enumerate(data):
                    if det.get('category_id', 1) != 1:
                        continue
                    entry = _parse_entry(det, f'boxes file {path}, record {i}')
                    if entry[1] < score_thre:
                        self.dropped += 1
                        continue
                    self.by_key.setdefault(det['image_id'], []).append(entry)
                self.description += ' (COCO results, image_id = numeric file name)'
            elif not any(with_id):
                self.everywhere = [_parse_entry(e, f'boxes file {path}, record {i}')
                                   for i, e in enumerate(data)]
                self.description += ' (same boxes for every image)'
            else:
                raise InputError(f'boxes file {path}: either every record has an image_id '
                                 '(COCO results) or none has')
        else:
            raise InputError(f'boxes file {path}: expected a COCO annotation file, a list of '
                             'boxes or a dict from image name to boxes')

    def lookup(self, keys):
        """list of (bbox, score) for the first matching key, or None."""
        if self.everywhere is not None:
            return list(self.everywhere)
        for key in keys:
            if key is not None and key in self.by_key:
                return list(self.by_key[key])
        return None

    def __call__(self, image, keys=()):
        found = self.lookup(keys)
        if found is None:
            return None
        if not found:
            return np.zeros((0, 4)), np.zeros(0)
        return (np.array([b for b, _ in found], dtype=np.float64),
                np.array([s for _, s in found], dtype=np.float64))


# ----------------------------------------------------------------------------- hog
#: (width, height) of the smallest image handed to OpenCV's HOG: its detection window.
HOG_MIN_SIZE = (64, 128)

class HOGDetector:
    """OpenCV's HOG + linear SVM people detector (Dalal and Triggs), the offline fallback.

    It is weak: it finds upright, mostly unoccluded people at least about 128 px tall (after
    ``max_side`` resizing) and misses most people of a crowd. Scores are the SVM margins
    clipped to [0, 1].

    OpenCV's ``detectMultiScale`` corrupts the heap or crashes the process (a known OpenCV
    bug) on images smaller than its 64x128 window, e.g. 64x64, 1x1 or 3000x20. Such an image
    (after the ``max_side`` resizing) is padded at its right and bottom edges, by repeating
    its border pixels, to at least :data:`HOG_MIN_SIZE`; boxes are clipped back to the image
    and boxes lying only in the padding are dropped.

    Args:
        score_thre: SVM margin below which detections are dropped.
        nms_thre: IoU NMS threshold.
        max_side: images are shrunk so that their longer side is at most this (speed).
        scale: pyramid step of ``detectMultiScale``.

    Raises:
        InputError: this OpenCV build has no ``HOGDescriptor`` (OpenCV 5 moved it out of
            opencv-python; install ``opencv-python-headless<5``).
    """

    def __init__(self, score_thre=0.0, nms_thre=0.45, max_side=800, scale=1.05):
        if not hasattr(cv2, 'HOGDescriptor'):
            raise InputError(f'the hog detector needs cv2.HOGDescriptor, which OpenCV '
                             f'{cv2.__version__} does not have (OpenCV 5 moved it out of '
                             'opencv-python); install "opencv-python-headless<5" or use the '
                             'onnx detector')
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.score_thre = float(score_thre)
        self.nms_thre = float(nms_thre)
        self.max_side = int(max_side)
        self.scale = float(scale)
        self.description = 'OpenCV HOG people detector'

    def __call__(self, image, keys=()):
        height, width = image.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        small = image if factor == 1.0 else cv2.resize(
            image, (max(1, round(width * factor)), max(1, round(height * factor))),
            interpolation=cv2.INTER_AREA)
        small_h, small_w = small.shape[:2]
        pad_w, pad_h = max(0, HOG_MIN_SIZE[0] - small_w), max(0, HOG_MIN_SIZE[1] - small_h)
        if pad_w or pad_h:
            small = cv2.copyMakeBorder(small, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8),
                                                   scale=self.scale)
        boxes = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        if pad_w or pad_h:
            # Back to the unpadded image: clip, and drop what lies in the padding only.
            x1 = np.clip(boxes[:, 0], 0, small_w)
            y1 = np.clip(boxes[:, 1], 0, small_h)
            x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, small_w)
            y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, small_h)
            inside = (x2 > x1) & (y2 > y1)
            boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)[inside]
            scores = scores[inside]
        boxes = boxes / factor
        keep = scores >= self.score_thre
        boxes, scores = boxes[keep], scores[keep]
        keep = nms_boxes(boxes, scores, self.nms_thre)
        return boxes[keep], np.clip(scores[keep], 0.0, 1.0)


# ----------------------------------------------------------------------------- onnx
YOLOX_STRIDES = (8, 16, 32)


class ONNXDetector:
    """A YOLOX / RTMDet person detector exported to ONNX, run with onnxruntime.

    Input: one (1, 3, H, W) float32 tensor, the image letterboxed as rtmlib and mmdeploy do
    (resized by ``min(H / h, W / w)``, placed top-left on a canvas of value 114, BGR order),
    then ``(x - mean) / std`` when ``mean`` / ``std`` are given (RTMDet exports; YOLOX takes
    raw pixels). H and W come from the model's input shape, else from ``input_size``.

    Outputs read (the first output decides):
        * end-to-end export with NMS (mmdeploy ``end2end.onnx``, rtmlib's YOLOX models):
          ``dets`` (1, N, 5) ``[x1, y1, x2, y2, score]`` in input pixels, and optionally
          ``labels`` (1, N) class ids (person = ``person_class``);
        * raw YOLOX head (1, A, 5 + C): ``[cx, cy, log w, log h]`` grid offsets, objectness
          and C class scores, A = sum over strides 8, 16, 32 of (H / s) * (W / s); decoded
          here, scored objectness x person score, then IoU NMS.

    Args:
        model_file: path of the .onnx file.
        score_thre: detections scoring below it are dropped.
        nms_thre: IoU NMS threshold (also applied to end-to-end outputs).
        input_size: (W, H) used when the model's input size is dynamic.
        mean, std: per-channel BGR normalisation, or None.
        person_class: class id of people.
        providers: onnxruntime execution providers (default CPU).

    Detections with a NaN or infinite box or score are skipped, counted in ``nonfinite``
    and in a warning.

    Raises:
        InputError: missing model file, onnxruntime not installed, unreadable model, an
            input other than one float32 (1, 3, H, W) image; when called, a model that
            onnxruntime cannot run on the image.
    """

    def __init__(self, model_file=None, score_thre=0.3, nms_thre=0.45, input_size=(640, 640),
                 mean=None, std=None, person_class=0, providers=None):
        if not model_file:
            raise InputError('the onnx detector needs a model file (--det-model PATH), e.g. '
                             "rtmlib's or mmdeploy's YOLOX / RTMDet end2end.onnx")
        if not os.path.isfile(model_file):
            raise InputError(f'detector model file not found: {model_file}')
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError('the onnx detector needs onnxruntime: pip install onnxruntime '
                             '(or the project\'s "onnx" extra)') from None
        try:
            self.session = ort.InferenceSession(model_file,
                                                providers=providers or ['CPUExecutionProvider'])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f'detector model {model_file} could not be loaded by '
                             f'onnxruntime: {str(exc).splitlines()[0]}') from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise InputError(f'detector model {model_file} must take one (1, 3, H, W) image '
                             f'input; it takes {[(i.name, i.shape) for i in inputs]}')
        channels = inputs[0].shape[1]
        if (isinstance(channels, int) and channels != 3) or inputs[0].type != 'tensor(float)':
            raise InputError(f'detector model {model_file} takes a {inputs[0].type} input of '
                             f'shape {inputs[0].shape}; this detector feeds a float32 '
                             '(1, 3, H, W) BGR image: use a 3-channel person detector export')
        self.input_name = inputs[0].name
        h, w = inputs[0].shape[2:]
        self.input_hw = (h if isinstance(h, int) else int(input_size[1]),
                         w if isinstance(w, int) else int(input_size[0]))
        self.model_file = model_file
        self.score_thre = float(score_thre)
        self.nms_thre = float(nms_thre)
        self.mean = None if mean is None else np.asarray(mean, np.float32).reshape(3, 1, 1)
        self.std = None if std is None else np.asarray(std, np.float32).reshape(3, 1, 1)
        self.person_class = int(person_class)
        self.description = f'ONNX detector {model_file}'
        # Detections with a NaN or infinite box or score, skipped (all images so far).
        self.nonfinite = 0

    def preprocess(self, image):
        """BGR (h, w, 3) -> ((1, 3, H, W) float32, resize ratio)."""
        in_h, in_w = self.input_hw
        height, width = image.shape[:2]
        ratio = min(in_h / height, in_w / width)
        new_w, new_h = max(1, int(width * ratio)), max(1, int(height * ratio))
        canvas = np.full((in_h, in_w, 3), 114, dtype=np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1).astype(np.float32)
        if self.mean is not None:
            blob = blob - self.mean
        if self.std is not None:
            blob = blob / self.std
        return blob[None], ratio

    def _decode_raw(self, raw):
        """(A, 5 + C) raw YOLOX head -> (boxes xyxy (A, 4), person scores (A,))."""
        in_h, in_w = self.input_hw
        grids, strides = [], []
        for s in YOLOX_STRIDES:
            ys, xs = np.meshgrid(np.arange(in_h // s), np.arange(in_w // s), indexing='ij')
            grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
            strides.append(np.full(xs.size, s))
        grid = np.concatenate(grids).astype(np.float64)
        stride = np.concatenate(strides).astype(np.float64)[:, None]
        if len(grid) != len(raw):
            raise InputError(f'detector model {self.model_file}: raw YOLOX output has '
                             f'{len(raw)} anchors, but a {in_w}x{in_h} input at strides '
                             f'{YOLOX_STRIDES} has {len(grid)}')
        if self.person_class + 5 >= raw.shape[1]:
            raise InputError(f'detector model {self.model_file}: person class '
                             f'{self.person_class} is not among its {raw.shape[1] - 5} classes')
        center = (raw[:, :2] + grid) * stride
        size = np.exp(np.minimum(raw[:, 2:4], 20.0)) * stride
        boxes = np.concatenate([center - size / 2, center + size / 2], axis=1)
        return boxes, raw[:, 4] * raw[:, 5 + self.person_class]

    def __call__(self, image, keys=()):
        blob, ratio = self.preprocess(image)
        try:
            outputs = self.session.run(None, {self.input_name: blob})
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputError(f'detector model {self.model_file} failed on a {blob.shape} '
                             f'input: {(str(exc).splitlines() or [type(exc).__name__])[0]}'
                             ) from None
        first = np.asarray(outputs[0], dtype=np.float64)
        if first.ndim != 3 or first.shape[0] != 1 or first.shape[2] < 5:
            raise InputError(
                f'detector model {self.model_file}: first output has shape {first.shape}; '
                'expected dets (1, N, 5) [x1, y1, x2, y2, score] (end-to-end export, with '
                'labels (1, N)) or a raw YOLOX head (1, A, 5 + classes)')
        if first.shape[2] == 5:
            xyxy, scores = first[0, :, :4], first[0, :, 4]
            if len(outputs) > 1:
                labels = np.asarray(outputs[1])
                if labels.shape != first.shape[:2]:
                    raise InputError(f'detector model {self.model_file}: labels output has '
                                     f'shape {labels.shape}; expected {first.shape[:2]}')
                person = labels[0] == self.person_class
                xyxy, scores = xyxy[person], scores[person]
        else:
            xyxy, scores = self._decode_raw(first[0])
        finite = np.isfinite(xyxy).all(axis=1) & np.isfinite(scores)
        if not finite.all():
            # Never scored, never compared in the NMS (a NaN IoU silently drops boxes).
            bad = int((~finite).sum())
            self.nonfinite += bad
            logger.warning('%s: %d detection(s) with a non-finite box or score skipped '
                           '(%d so far)', self.description, bad, self.nonfinite)
            xyxy, scores = xyxy[finite], scores[finite]
        keep = scores >= self.score_thre
        xyxy, scores = xyxy[keep] / ratio, scores[keep]
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        keep = nms_boxes(boxes, scores, self.nms_thre)
        return boxes[keep], scores[keep]


DETECTORS = {'none': NoneDetector, 'file': FileDetector, 'hog': HOGDetector,
             'onnx': ONNXDetector}


def detector_names():
    """Every detector name: the backends of :data:`DETECTORS`, then the zoo's detectors."""
    return list(DETECTORS) + zoo.detector_names()


def build_detector(name, **options):
    """A detector by name built with ``options`` (its constructor's arguments); a callable
    that is not a name is returned as is.

    A zoo detector name (``yolox-m``, ...) is the ``onnx`` backend with the zoo's model file
    (downloaded and verified on first use) and input size; ``options`` may change the
    thresholds and the input size.

    Raises:
        InputError: unknown name or bad options.
        mipnet.zoo.ZooError: a zoo detector that cannot be downloaded or fails its check.
    """
    if callable(name):
        return name
    if name in zoo.detector_names():
        if 'model_file' in options:
            raise InputError(f'detector {name!r} brings its own model file; a model file '
                             '(--det-model) goes with the onnx detector')
        options = {**dict(zoo.get_entry(name).detector_options), **options,
                   'model_file': zoo.resolve(name)}
        detector = build_detector('onnx', **options)
        detector.description = f'{name} ({detector.description})'
        return detector
    if name not in DETECTORS:
        raise InputError(f'unknown detector {name!r}; choose one of '
                         f'{", ".join(detector_names())}')
    try:
        return DETECTORS[name](**options)
    except TypeError as exc:
        raise InputError(f'detector {name!r}: {exc}') from None
