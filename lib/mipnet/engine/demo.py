"""Demo: multi-instance poses on images, image folders and videos, drawn and saved as JSON.

    python tools/demo.py --cfg experiments/synthetic/tiny_mipnet.yaml \
        TEST.MODEL_FILE output/.../model_best.pth --image photo.jpg --out demo_out

Inference is the evaluation path: crops made as the dataset makes them, batched through
:class:`~mipnet.engine.inference.MultiInstancePredictor` (built by
:func:`~mipnet.engine.evaluate.predictor_from_cfg`), then rescoring and OKS-NMS over every
instance of every box by :func:`~mipnet.evaluation.postprocess.rescore_and_merge`.

Person boxes come from ``--boxes x,y,w,h ...`` (every image), ``--boxes-file`` (a COCO
annotation file, a COCO results list, a list of ``{"bbox", "score"}`` for every image or a
dict from image name to such a list), or, when neither is given, the whole image.
"""
import argparse
import json
import logging
import math
import os
import sys

import cv2
import numpy as np
import torch
from tqdm import tqdm

from mipnet.config import ConfigError, load_config
from mipnet.data import DataError
from mipnet.data.coco import decode_image, load_json, normalize_image
from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.transforms import box_to_center_scale, get_affine_transform
from mipnet.utils.checkpoint import CheckpointError
from mipnet.utils.dist import DeviceError, resolve_device_type, setup_cpu_math

logger = logging.getLogger(__name__)

__all__ = ['DemoError', 'main', 'run_demo', 'BoxSource', 'make_crop',
           'check_box']

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')


class DemoError(ValueError):
    """Bad demo input: image, boxes, options."""


# ----------------------------------------------------------------------------- crops
def make_crop(image, box, image_size, color_rgb):
    """The network input for one person box.

    Args:
        image: BGR uint8 (H, W, 3).
        box: [x, y, w, h] in pixels.
        image_size: (width, height) of the network input.
        color_rgb: ``DATASET.COLOR_RGB``.

    Returns:
        (crop float32 (3, height, width), center (2,), scale (2,)) with the HRNet box
        convention: aspect ratio of the input, enlarged 1.25 times.
    """
    in_w, in_h = int(image_size[0]), int(image_size[1])
    center, scale = box_to_center_scale(*box, aspect_ratio=in_w / in_h)
    trans = get_affine_transform(center, scale, 0, (in_w, in_h))
    crop = cv2.warpAffine(image, trans, (in_w, in_h), flags=cv2.INTER_LINEAR)
    return normalize_image(crop, color_rgb), center, scale


def check_box(box, width, height, image_name):
    """Validate a box against its image and clip it to the image.

    Args:
        box: [x, y, w, h].
        width, height: image size.

    Returns:
        (clipped [x, y, w, h] floats, whether it was clipped).

    Raises:
        DemoError: w or h <= 0, non-finite values, or no overlap with the image.
    """
    x, y, w, h = (float(v) for v in box)
    shown = f'[{x:g}, {y:g}, {w:g}, {h:g}]'
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise DemoError(f'box {shown} for image {image_name} has non-finite values')
    if w <= 0 or h <= 0:
        raise DemoError(f'degenerate box {shown} for image {image_name}: width and height '
                        'must be > 0')
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(width), x + w), min(float(height), y + h)
    if x2 <= x1 or y2 <= y1:
        raise DemoError(f'box {shown} lies outside image {image_name} ({width}x{height}); '
                        'boxes are [x, y, w, h] in pixels')
    clipped = [x1, y1, x2 - x1, y2 - y1]
    return clipped, clipped != [x, y, w, h]


# ----------------------------------------------------------------------------- boxes
def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_entry(entry, where):
    """(bbox list of 4 floats, score float) from {"bbox", "score"} or [x, y, w, h]."""
    if isinstance(entry, dict):
        bbox, score = entry.get('bbox'), entry.get('score', 1.0)
    else:
        bbox, score = entry, 1.0
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(map(_is_number, bbox)):
        raise DemoError(f'{where}: expected a box [x, y, w, h] of 4 numbers, got '
                        f'{str(bbox)[:100]}')
    if not _is_number(score):
        raise DemoError(f'{where}: score {score!r} is not a number')
    return [float(v) for v in bbox], float(score)


def _numeric_stem(stem):
    return int(stem) if stem.isdigit() else None


class BoxSource:
    """Person boxes of each input image.

    Args:
        boxes: list of [x, y, w, h] for every image (``--boxes``), or None.
        boxes_file: path of a boxes JSON file (``--boxes-file``), or None.
        score_thre: results-list detections below it are dropped (``TEST.IMAGE_THRE``).

    ``lookup(keys)`` returns a list of (bbox, score) or None when nothing was given for the
    image (then the demo falls back to the whole image only if no boxes were given at all).
    """

    def __init__(self, boxes=None, boxes_file=None, score_thre=0.0):
        if boxes and boxes_file:
            raise DemoError('give either --boxes or --boxes-file, not both')
        self.description = 'the whole image'
        self.everywhere = None      # list of (bbox, score) for every image
        self.by_key = None          # image name / stem / id -> list of (bbox, score)
        self.dropped = 0
        if boxes:
            self.everywhere = [(b, 1.0) for b in boxes]
            self.description = f'{len(boxes)} box(es) from --boxes'
        elif boxes_file:
            self._load(boxes_file, score_thre)

    @property
    def given(self):
        return self.everywhere is not None or self.by_key is not None

    def _load(self, path, score_thre):
        try:
            data = load_json(path, 'boxes file')
        except DataError as exc:
            raise DemoError(str(exc)) from None
        self.description = f'boxes file {path}'
        if isinstance(data, dict) and isinstance(data.get('images'), list) \
                and isinstance(data.get('annotations'), list):
            # COCO annotation file: ground-truth person boxes mapped by file name.
            names = {im.get('id'): os.path.basename(str(im.get('file_name', '')))
                     for im in data['images'] if isinstance(im, dict)}
            self.by_key = {}
            for i, ann in enumerate(data['annotations']):
                if not isinstance(ann, dict) or ann.get('category_id', 1) != 1 \
                        or ann.get('iscrowd', 0):
                    continue
                name = names.get(ann.get('image_id'))
                if not name:
                    raise DemoError(f'boxes file {path}: annotations[{i}] refers to image_id '
                                    f'{ann.get("image_id")!r}, which is not in "images"')
                entry = _parse_entry({'bbox': ann.get('bbox'), 'score': ann.get('score', 1.0)},
                                     f'boxes file {path}, annotations[{i}]')
                self.by_key.setdefault(name, []).append(entry)
            self.description += ' (COCO annotations, matched by file name)'
        elif isinstance(data, dict):
            # {"<image name or stem>": [{"bbox": [...], "score": s} or [x, y, w, h], ...]}
            self.by_key = {}
            for key, entries in data.items():
                if not isinstance(entries, list):
                    raise DemoError(f'boxes file {path}: entry {key!r} must be a list of boxes')
                self.by_key[str(key)] = [_parse_entry(e, f'boxes file {path}, {key!r}[{i}]')
                                         for i, e in enumerate(entries)]
            self.description += ' (per-image dict)'
        elif isinstance(data, list):
            with_id = [isinstance(d, dict) and 'image_id' in d for d in data]
            if data and all(with_id):
                # COCO results list: image_id matched to the image's numeric stem.
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
                raise DemoError(f'boxes file {path}: either every record has an image_id '
                                '(COCO results) or none has')
        else:
            raise DemoError(f'boxes file {path}: expected a COCO annotation file, a list of '
                            'boxes or a dict from image name to boxes')

    def lookup(self, keys):
        """Boxes for the first matching key (file name, stem, numeric id), or None."""
        if self.everywhere is not None:
            return list(self.everywhere)
        if self.by_key is None:
            return None
        for key in keys:
            if key is not None and key in self.by_key:
                return list(self.by_key[key])
        return None


# ----------------------------------------------------------------------------- inputs
def _read_image(path):
    if not os.path.exists(path):
        raise DemoError(f'image not found: {path}')
    img, why = decode_image(path)
    if img is None:
        raise DemoError(f'image {path} {why}')
    return img


def _image_keys(name):
    stem = os.path.splitext(name)[0]
    num = _numeric_stem(stem)
    return [name, stem, num, str(num) if num is not None else None]


def _iter_images(paths):
    for path in paths:
        name = os.path.basename(path)
        stem = os.path.splitext(name)[0]
        num = _numeric_stem(stem)
        yield {'image': _read_image(path), 'name': name, 'stem': stem, 'file': name,
               'keys': _image_keys(name), 'image_id': num}


def _list_folder(folder):
    files = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTS) and os.path.isfile(os.path.join(folder, f)))
    if not files:
        raise DemoError(f'no images ({", ".join(IMAGE_EXTS)}) in folder {folder}')
    return [os.path.join(folder, f) for f in files]


def _iter_video(cap, stem, file):
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        name = f'{stem}_{index:06d}'
        yield {'image': frame, 'name': name, 'stem': stem, 'file': file, 'frame': index,
               'keys': [name, index, str(index)], 'image_id': index}
        index += 1


# ----------------------------------------------------------------------------- the run
class _Runner:
    """Crops images, batches boxes across images, runs the predictor and merges."""

    def __init__(self, cfg, predictor, device, boxes, batch_size, kpt_thre, score_thre,
                 keypoint_meta):
        self.cfg = cfg
        self.predictor = predictor
        self.device = device
        self.boxes = boxes
        self.batch_size = batch_size
        self.kpt_thre = kpt_thre
        self.score_thre = score_thre
        self.meta = keypoint_meta
        self.image_size = cfg.MODEL.IMAGE_SIZE
        self.color_rgb = bool(cfg.DATASET.COLOR_RGB)
        from mipnet.evaluation.postprocess import postprocess_options_from_cfg
        self.options = postprocess_options_from_cfg(cfg)
        self.warned_whole = False

    def prepare(self, item):
        """Add 'boxes' (M, 4), 'box_scores' (M,), 'crops' (M, 3, H, W), 'centers',
        'scales' (M, 2) to an input item."""
        img = item['image']
        height, width = img.shape[:2]
        found = self.boxes.lookup(item['keys'])
        if found is None:
            if self.boxes.given:
                logger.warning('no boxes for %s in the %s: nothing to predict there',
                               item['name'], self.boxes.description)
                found = []
            else:
                if not self.warned_whole:
                    logger.info('no boxes given (--boxes / --boxes-file): using the whole '
                                'image as one person box')
                    self.warned_whole = True
                found = [([0.0, 0.0, float(width), float(height)], 1.0)]
        boxes, scores, crops, centers, scales = [], [], [], [], []
        for bbox, score in found:
            box, clipped = check_box(bbox, width, height, item['name'])
            if clipped:
                logger.info('box %s of %s extends past the image (%dx%d); clipped to %s',
                            [round(v, 1) for v in bbox], item['name'], width, height,
                            [round(v, 1) for v in box])
            crop, center, scale = make_crop(img, box, self.image_size, self.color_rgb)
            boxes.append(box)
            scores.append(score)
            crops.append(crop)
            centers.append(center)
            scales.append(scale)
        h, w = int(self.image_size[1]), int(self.image_size[0])
        item['boxes'] = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        item['box_scores'] = np.asarray(scores, dtype=np.float64)
        item['crops'] = np.stack(crops) if crops else np.zeros((0, 3, h, w), np.float32)
        item['centers'] = np.asarray(centers, dtype=np.float32).reshape(-1, 2)
        item['scales'] = np.asarray(scales, dtype=np.float32).reshape(-1, 2)
        return item

    def predict(self, items):
        """Keypoints of all boxes of ``items``, batched: sets item['keypoints'] (M, K, J, 3)."""
        crops = np.concatenate([it['crops'] for it in items])
        centers = np.concatenate([it['centers'] for it in items])
        scales = np.concatenate([it['scales'] for it in items])
        parts = []
        for start in range(0, len(crops), self.batch_size):
            stop = start + self.batch_size
            batch = torch.from_numpy(crops[start:stop]).to(self.device)
            parts.append(self.predictor(batch, centers[start:stop], scales[start:stop]))
        k, j = len(self.predictor.instances), self.meta.num_joints
        kpts = np.concatenate(parts) if parts else np.zeros((0, k, j, 3), np.float32)
        offset = 0
        for it in items:
            m = len(it['crops'])
            it['keypoints'] = kpts[offset:offset + m]
            offset += m

    def merge(self, item):
        """COCO-style results of one image after rescoring and OKS-NMS."""
        from mipnet.evaluation.postprocess import rescore_and_merge
        kpts = item['keypoints']  # (M, K, J, 3)
        m, k, j = kpts.shape[:3]
        if m == 0:
            return []
        instances = np.asarray(self.predictor.instances, dtype=np.int64)
        flat = kpts.reshape(m * k, j, 3).astype(np.float64)
        merged = rescore_and_merge(
            flat[..., :2], flat[..., 2:], np.repeat(item['scales'], k, axis=0),
            np.repeat(item['box_scores'], k), np.zeros(m * k, dtype=np.int64),
            np.tile(instances, m), **self.options, sigmas=self.meta.sigmas_array)
        rows = flat.reshape(m * k, -1)
        results = []
        for res in merged:
            # rescore_and_merge returns the keypoints it was given: find the row (and box).
            cand = np.flatnonzero(np.all(rows == np.asarray(res['keypoints']), axis=1))
            row = next((c for c in cand if instances[c % k] == res['instance']), cand[0])
            score = float(np.clip(res['score'], 0.0, 1.0))
            if score < self.score_thre:
                continue
            entry = {'image': item['file'],
                     'image_id': item['image_id'] if item['image_id'] is not None else -1,
                     'category_id': 1,
                     'keypoints': [float(v) for v in res['keypoints']],
                     'score': score,
                     'instance': int(res['instance']),
                     'box': [round(float(v), 2) for v in item['boxes'][row // k]],
                     'box_score': float(item['box_scores'][row // k])}
            if 'frame' in item:
                entry['frame'] = int(item['frame'])
            results.append(entry)
        return results

    def draw(self, item, results):
        from mipnet.utils.vis import draw_poses
        return draw_poses(item['image'], results, self.meta.skeleton, kpt_thre=self.kpt_thre,
                          boxes=item['boxes'])

    def run(self, items, finish):
        """Prepare, batch and predict ``items`` (an iterable), calling
        ``finish(item, results, drawn)`` for each in input order."""
        pending, count = [], 0

        def flush():
            if pending:
                self.predict(pending)
                for it in pending:
                    results = self.merge(it)
                    finish(it, results, self.draw(it, results))
                pending.clear()

        for item in items:
            pending.append(self.prepare(item))
            count += len(item['crops'])
            if count >= self.batch_size:
                flush()
                count = 0
        flush()


def _write_json(path, results):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(results, f)


def _imwrite(path, img):
    if not cv2.imwrite(path, img):
        raise DemoError(f'could not write {path}')


def _parse_boxes(values):
    boxes = []
    for v in values or ():
        parts = v.split(',')
        try:
            box = [float(p) for p in parts]
        except ValueError:
            box = []
        if len(box) != 4:
            raise DemoError(f'--boxes {v!r}: expected x,y,w,h (four comma-separated numbers)')
        boxes.append(box)
    return boxes


def _parse_instances(text, net):
    available = net.num_instances if net.uses_lambda else 1
    if not text:
        return list(range(available))
    try:
        instances = [int(v) for v in text.split(',') if v.strip() != '']
    except ValueError:
        raise DemoError(f'--instances {text!r}: expected comma-separated integers') from None
    bad = [k for k in instances if not 0 <= k < available]
    if not instances or bad:
        raise DemoError(f'--instances {text!r}: this model has instances 0..{available - 1}')
    return instances


def build_demo_model(cfg, device):
    """The network of ``cfg`` with the weights of ``TEST.MODEL_FILE``, in eval mode."""
    from mipnet.models import build_model
    from mipnet.utils.checkpoint import load_model_weights
    if not cfg.TEST.MODEL_FILE:
        raise ConfigError('TEST.MODEL_FILE is empty: pass the checkpoint as a config override, '
                          'e.g. TEST.MODEL_FILE output/.../model_best.pth')
    model = build_model(cfg, is_train=False)
    load_model_weights(model, cfg.TEST.MODEL_FILE)
    return model.to(device).eval()


def run_demo(cfg, image, out, boxes=None, boxes_file=None, instances=None, batch_size=None,
             kpt_thre=None, score_thre=0.0):
    """Run the demo on an image, a folder of images or a video.

    Args:
        cfg: loaded config (``TEST.MODEL_FILE`` set; ``DEVICE``, ``TEST.FLIP_TEST`` etc.).
        image: path of an image, a folder of images or a video.
        out: output folder: ``<name>.json`` and ``<name>.png`` per image; for a video one
            ``<name>.json`` and ``<name>.mp4``.
        boxes: list of [x, y, w, h] used for every image, or None.
        boxes_file: boxes JSON (see :class:`BoxSource`), or None.
        instances: comma-separated instance indices ('0,1'), None for all.
        batch_size: boxes per forward pass (default ``TEST.BATCH_SIZE_PER_GPU``).
        kpt_thre: drawing threshold of joint confidence (default ``TEST.IN_VIS_THRE``).
        score_thre: poses scoring below it are dropped from the outputs.

    Returns:
        dict output path -> number of poses written.
    """
    from mipnet.engine.evaluate import predictor_from_cfg
    try:
        meta = get_keypoint_meta(cfg.DATASET.TEST_DATASET or cfg.DATASET.DATASET)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if meta.num_joints != int(cfg.MODEL.NUM_JOINTS):
        raise ConfigError(f'MODEL.NUM_JOINTS = {cfg.MODEL.NUM_JOINTS} but the {meta.name} layout '
                          f'(DATASET.TEST_DATASET) has {meta.num_joints} joints')
    if not os.path.exists(image):
        raise DemoError(f'image not found: {image}')
    source = BoxSource(_parse_boxes(boxes), boxes_file, float(cfg.TEST.IMAGE_THRE))
    batch_size = int(batch_size or cfg.TEST.BATCH_SIZE_PER_GPU)
    if batch_size <= 0:
        raise DemoError(f'--batch-size {batch_size} must be positive')

    device = torch.device(resolve_device_type(cfg.DEVICE))
    setup_cpu_math()
    model = build_demo_model(cfg, device)
    predictor = predictor_from_cfg(cfg, model, meta.flip_index)
    predictor.instances = _parse_instances(instances, model)
    logger.info('%s (%s layout, %d joints) on %s | instances %s | flip test %s | boxes: %s',
                cfg.MODEL.NAME, meta.name, meta.num_joints, device, predictor.instances,
                'on' if predictor.flip_index is not None else 'off', source.description)
    if source.dropped:
        logger.info('%d detections below TEST.IMAGE_THRE %.2f dropped', source.dropped,
                    cfg.TEST.IMAGE_THRE)
    runner = _Runner(cfg, predictor, device, source, batch_size,
                     cfg.TEST.IN_VIS_THRE if kpt_thre is None else kpt_thre, score_thre, meta)
    os.makedirs(out, exist_ok=True)
    written = {}

    if os.path.isfile(image) and image.lower().endswith(VIDEO_EXTS):
        return _run_video(runner, image, out, written)

    paths = _list_folder(image) if os.path.isdir(image) else [image]
    bar = tqdm(total=len(paths), desc='demo', unit='img', disable=len(paths) == 1,
               dynamic_ncols=True)

    def finish(item, results, drawn):
        base = os.path.join(out, item['stem'])
        _write_json(base + '.json', results)
        _imwrite(base + '.png', drawn)
        written[base + '.json'] = len(results)
        bar.update(1)

    try:
        runner.run(_iter_images(paths), finish)
    finally:
        bar.close()
    return written


def _run_video(runner, path, out, written):
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise DemoError(f'video {path} could not be opened (corrupt or unsupported codec)')
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    stem = os.path.splitext(os.path.basename(path))[0]
    video_path = os.path.join(out, stem + '.mp4')
    state = {'writer': None, 'results': []}
    bar = tqdm(total=total, desc='demo', unit='frame', dynamic_ncols=True)

    def finish(item, results, drawn):
        if state['writer'] is None:
            h, w = drawn.shape[:2]
            state['writer'] = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                              (w, h))
            if not state['writer'].isOpened():
                raise DemoError(f'could not open {video_path} for writing (mp4v codec)')
        state['writer'].write(drawn)
        state['results'].extend(results)
        bar.update(1)

    try:
        runner.run(_iter_video(cap, stem, os.path.basename(path)), finish)
    finally:
        cap.release()
        bar.close()
        if state['writer'] is not None:
            state['writer'].release()
    if state['writer'] is None:
        raise DemoError(f'video {path} has no readable frame')
    json_path = os.path.join(out, stem + '.json')
    _write_json(json_path, state['results'])
    written[json_path] = len(state['results'])
    written[video_path] = bar.n
    return written


# ----------------------------------------------------------------------------- CLI
def _parser():
    p = argparse.ArgumentParser(
        prog='tools/demo.py',
        description='MIPNet demo: multi-instance poses of person boxes in images, image '
                    'folders or videos. Config overrides (KEY VALUE, e.g. TEST.MODEL_FILE '
                    'model.pth) follow --cfg.')
    p.add_argument('--cfg', required=True, help='experiment YAML file')
    p.add_argument('--image', required=True, help='image file, folder of images, or video')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--boxes-file', default=None,
                   help='person boxes: COCO annotation file, COCO results list, list of '
                        '{"bbox", "score"} for every image, or {image name: [boxes]}')
    p.add_argument('--boxes', nargs='+', action='extend', default=None, metavar='X,Y,W,H',
                   help='person boxes used for every image')
    p.add_argument('--instances', default='', help='instances to run, e.g. 0,1 (default: all)')
    p.add_argument('--flip', action='store_true', help='flip test (sets TEST.FLIP_TEST true; '
                   'off by default in the demo)')
    p.add_argument('--device', default='', help='auto, cpu, cuda or npu (sets DEVICE)')
    p.add_argument('--batch-size', type=int, default=0,
                   help='boxes per forward pass (default TEST.BATCH_SIZE_PER_GPU)')
    p.add_argument('--kpt-thre', type=float, default=None,
                   help='joints drawn above this confidence (default TEST.IN_VIS_THRE)')
    p.add_argument('--score-thre', type=float, default=0.0,
                   help='poses scoring below this are left out of the JSON and the drawing')
    p.add_argument('opts', nargs='*', metavar='KEY VALUE', help='config overrides')
    return p


def main(argv=None):
    """Entry point of ``tools/demo.py``; returns the exit status (0, or 1 after printing
    one ``error: ...`` line to stderr)."""
    args = _parser().parse_intermixed_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s',
                            stream=sys.stderr)
    try:
        opts = list(args.opts) + ['TEST.FLIP_TEST', str(bool(args.flip))]
        if args.device:
            opts += ['DEVICE', args.device]
        cfg = load_config(args.cfg, opts)
        written = run_demo(cfg, args.image, args.out, boxes=args.boxes,
                           boxes_file=args.boxes_file, instances=args.instances,
                           batch_size=args.batch_size or None, kpt_thre=args.kpt_thre,
                           score_thre=args.score_thre)
    except (ConfigError, DataError, CheckpointError, DeviceError, DemoError, OSError) as exc:
        print('error: ' + ' '.join(str(exc).split()), file=sys.stderr)
        return 1
    if len(written) > 10:
        print(f'{len(written)} JSON files and drawings written to {args.out}: '
              f'{sum(written.values())} poses')
    else:
        for path, count in written.items():
            what = 'frames' if path.endswith('.mp4') else 'poses'
            print(f'{path}: {count} {what}')
    return 0
