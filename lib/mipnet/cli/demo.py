"""Command line of :class:`mipnet.apis.PoseInferencer`: poses of every person in an image, a
folder of images, a video, a camera or a stream, drawn and saved as COCO-style JSON.

    python tools/demo.py --cfg experiments/synthetic/tiny_mipnet.yaml \
        TEST.MODEL_FILE output/.../model_best.pth --image photo.jpg --out demo_out \
        [--detector hog | --detector onnx --det-model yolox.onnx | --boxes-file dets.json]

Outputs never overwrite inputs: ``--out`` may not be the input folder or a file, and an
output name that would be an input file is refused. Images of one folder that share a stem
(``x.jpg``, ``x.png``) are written as ``x_jpg.*`` and ``x_png.*``. A folder goes on past
files that cannot be read and lists them at the end (exit status 1). A camera (``--image 0``)
or stream URL is processed frame by frame, each frame written as it comes, until it ends,
``--max-frames`` or Ctrl-C.
"""
import itertools
import json
import logging
import os
import sys
from collections import Counter

import cv2
from tqdm import tqdm

from mipnet import zoo
from mipnet.apis.detectors import FileDetector, InputError
from mipnet.apis.inferencer import (MAX_BOXES_PER_IMAGE, PoseInferencer, check_box,
                                    is_stream, is_video, list_images, make_crop,
                                    stream_name, video_fps)
from mipnet.cli.parsers import demo_parser
from mipnet.config import ConfigError, load_config
from mipnet.data import DataError
from mipnet.utils.checkpoint import CheckpointError
from mipnet.utils.dist import DeviceError
from mipnet.utils.files import write_atomic, write_json_atomic

logger = logging.getLogger(__name__)

__all__ = ['DemoError', 'main', 'run_demo', 'BoxSource', 'make_crop', 'check_box',
           'output_names']

# The demo's error type is the API's: callers of the old names keep working.
DemoError = InputError
BoxSource = FileDetector


def _parse_boxes(values):
    boxes = []
    for v in values or ():
        try:
            box = [float(p) for p in v.split(',')]
        except ValueError:
            box = []
        if len(box) != 4:
            raise DemoError(f'--boxes {v!r}: expected x,y,w,h (four comma-separated numbers)')
        boxes.append(box)
    return boxes


def _parse_instances(text):
    if not text:
        return None
    try:
        return [int(v) for v in text.split(',') if v.strip() != '']
    except ValueError:
        raise DemoError(f'--instances {text!r}: expected comma-separated integers') from None


def output_names(paths, out, folder=None):
    """Output base path (without extension) of every input file.

    Inputs sharing a stem get their extension in the name (``x.jpg`` -> ``x_jpg``).
    ``folder`` is the input folder the paths were listed from, if any.

    Raises:
        DemoError: ``out`` is an input folder or an existing file, or an output
            (``<base>.json``, ``<base>.png``, ``<base>.mp4``) would be an input file.
    """
    out_real = os.path.realpath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise DemoError(f'--out {out} is a file; give a folder for the drawings and JSON')
    inputs = {os.path.realpath(p) for p in paths}
    if folder is not None and os.path.realpath(folder) == out_real:
        raise DemoError(f'--out {out} is the input folder: its drawings would be read as '
                        'inputs next time; choose another output folder')
    stems = Counter(os.path.splitext(os.path.basename(p))[0] for p in paths)
    bases = {}
    for p in paths:
        name = os.path.basename(p)
        stem = os.path.splitext(name)[0]
        bases[p] = os.path.join(out, stem if stems[stem] == 1 else name.replace('.', '_'))
    seen = Counter(bases.values())
    for p, base in bases.items():
        if seen[base] > 1:
            raise DemoError(f'inputs {", ".join(q for q in paths if bases[q] == base)} would '
                            f'all be written as {base}.*; rename one of them')
        for ext in ('.json', '.png', '.mp4'):
            if os.path.realpath(base + ext) in inputs:
                raise DemoError(f'output {base + ext} would overwrite the input of the same '
                                'name; choose another --out folder')
    return bases


def _write_json(path, poses):
    write_json_atomic(path, poses)


def _imwrite(path, img):
    ok, data = cv2.imencode(os.path.splitext(path)[1], img)
    if not ok:
        raise DemoError(f'could not encode {path}')
    write_atomic(path, lambda f: f.write(data.tobytes()), binary=True)


def run_demo(cfg, image, out, boxes=None, boxes_file=None, instances=None, batch_size=None,
             kpt_thre=None, score_thre=0.0, detector=None, detector_options=None,
             max_boxes=MAX_BOXES_PER_IMAGE, draw_scale=None, max_frames=0,
             backend='pytorch', onnx_model=None):
    """Run the inferencer on an image, a folder of images or a video and save its outputs.

    Args:
        cfg: loaded config (``TEST.MODEL_FILE`` set; ``DEVICE``, ``TEST.FLIP_TEST`` etc.).
        image: path of an image, a folder of images or a video; or a camera index ('0') or
            a stream URL (rtsp://, http://, ...).
        out: output folder: ``<name>.json`` and ``<name>.png`` per image; for a video one
            ``<name>.json`` and ``<name>.mp4``; for a camera or stream ``<name>.mp4`` and
            ``<name>.jsonl`` (one line per frame), both written as the frames come.
        boxes: list of 'x,y,w,h' strings used for every image, or None.
        boxes_file: boxes JSON (see :class:`~mipnet.apis.detectors.FileDetector`), or None.
        instances: comma-separated instance indices ('0,1'), None for all.
        batch_size: boxes per forward pass (default ``TEST.BATCH_SIZE_PER_GPU``, at most
            ``TEST.CPU_BATCH_SIZE`` on the CPU).
        kpt_thre: drawing threshold of joint confidence (default ``TEST.IN_VIS_THRE``).
        score_thre: poses scoring below it are left out of the JSON and the drawing.
        detector: 'none', 'file', 'hog', 'onnx' or a zoo detector ('yolox-m', ...); None
            picks 'file' when boxes are given, else 'none'.
        detector_options: constructor arguments of the detector (hog, onnx).
        max_boxes: an image with more person boxes than this is an error.
        draw_scale: size of the drawings relative to the input (None: small inputs are
            upscaled so that their shorter side is at least 512 px); the JSON keeps image
            pixels.
        max_frames: cameras and streams stop after this many frames (0: at the stream's
            end, or on Ctrl-C).
        backend, onnx_model: ``backend`` and ``onnx_file`` of the inferencer.

    Returns:
        (dict output path -> number of poses (frames for a video), list of
        'file: reason' of the inputs that could not be read).
    """
    stream = is_stream(image)
    if not stream and not os.path.exists(image):
        raise DemoError(f'image not found: {image}')
    if draw_scale is not None and not draw_scale > 0:
        raise DemoError(f'--draw-scale {draw_scale}: must be a positive factor')
    parsed = _parse_boxes(boxes)
    detector = detector or ('file' if parsed or boxes_file else 'none')
    if (parsed or boxes_file) and detector != 'file':
        raise DemoError(f'--boxes / --boxes-file give the boxes themselves: leave out '
                        f'--detector {detector} (or use --detector file)')
    options = dict(detector_options or {})
    if detector == 'file':
        options.update(boxes=parsed or None, boxes_file=boxes_file,
                       score_thre=float(cfg.TEST.IMAGE_THRE))
    video = is_video(image)
    if stream:
        if os.path.exists(out) and not os.path.isdir(out):
            raise DemoError(f'--out {out} is a file; give a folder for the drawings and JSON')
    else:
        paths = [image] if video or not os.path.isdir(image) else list_images(image)
        bases = output_names(paths, out, folder=None if video or not os.path.isdir(image)
                             else image)

    inferencer = PoseInferencer(cfg, detector=detector, detector_options=options,
                                instances=_parse_instances(instances), batch_size=batch_size,
                                score_thre=score_thre, max_boxes=max_boxes, progress=True,
                                backend=backend, onnx_file=onnx_model)
    meta = inferencer.meta
    logger.info('%s (%s layout, %d joints) on %s | instances %s | flip test %s | boxes: %s',
                cfg.MODEL.NAME, meta.name, meta.num_joints, inferencer.device,
                inferencer.instances, 'on' if inferencer.predictor.flip_index is not None
                else 'off', inferencer.detector.description)
    if detector == 'none':
        logger.info('no boxes given (--boxes / --boxes-file / --detector): using the whole '
                    'image as one person box')
    dropped = getattr(inferencer.detector, 'dropped', 0)
    if dropped:
        logger.info('%d detections below TEST.IMAGE_THRE %.2f dropped', dropped,
                    cfg.TEST.IMAGE_THRE)
    os.makedirs(out, exist_ok=True)
    try:
        if stream:
            return _run_stream(inferencer, image, os.path.join(out, stream_name(image)),
                               kpt_thre, max_frames), []
        if video:
            return _run_video(inferencer, image, bases[image], kpt_thre, draw_scale), []
        return _run_images(inferencer, image, paths, bases, kpt_thre, draw_scale)
    finally:
        nonfinite = getattr(inferencer.detector, 'nonfinite', 0)
        if nonfinite:
            logger.warning('%d detection(s) with a non-finite box or score were skipped',
                           nonfinite)


def _run_images(inferencer, image, paths, bases, kpt_thre, draw_scale=None):
    written, failed = {}, []
    bar = tqdm(total=len(paths), desc='demo', unit='img', disable=len(paths) == 1,
               dynamic_ncols=True)
    try:
        # A folder's images as listed above (its videos are named in a warning there).
        for result in inferencer(paths if os.path.isdir(image) else image):
            bar.update(1)
            if result['error']:
                failed.append(result['error'])
                continue
            base = bases[result['path']]
            _write_json(base + '.json', result['poses'])
            _imwrite(base + '.png', inferencer.draw(result, kpt_thre, draw_scale))
            written[base + '.json'] = len(result['poses'])
    finally:
        bar.close()
    return written, failed


def _run_video(inferencer, path, base, kpt_thre, draw_scale=None):
    video_path, writer, poses, frames = base + '.mp4', None, [], 0
    bar = tqdm(desc='demo', unit='frame', dynamic_ncols=True)
    try:
        for result in inferencer(path):
            drawn = inferencer.draw(result, kpt_thre, draw_scale)
            if writer is None:
                h, w = drawn.shape[:2]
                writer = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*'mp4v'),
                                         video_fps(path), (w, h))
                if not writer.isOpened():
                    raise DemoError(f'could not open {video_path} for writing (mp4v codec)')
            writer.write(drawn)
            poses.extend(result['poses'])
            frames += 1
            bar.update(1)
    finally:
        bar.close()
        if writer is not None:
            writer.release()
    _write_json(base + '.json', poses)
    return {base + '.json': len(poses), video_path: frames}


def _run_stream(inferencer, source, base, kpt_thre, max_frames):
    """A camera or stream, frame by frame: each drawn frame goes to ``<base>.mp4`` and its
    poses to a line of ``<base>.jsonl`` (flushed) as soon as it is done. Ends with the
    stream, after ``max_frames`` frames, or on Ctrl-C (the outputs are kept). A camera or
    stream that cannot be opened fails before any output is made."""
    video_path, lines_path = base + '.mp4', base + '.jsonl'
    results = inferencer(source)
    writer, frames, poses, bar = None, 0, 0, None
    try:
        first = next(results)
        bar = tqdm(desc='demo', unit='frame', dynamic_ncols=True)
        with open(lines_path, 'w', encoding='utf-8') as lines:
            for result in itertools.chain([first], results):
                drawn = inferencer.draw(result, kpt_thre)
                if writer is None:
                    h, w = drawn.shape[:2]
                    writer = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*'mp4v'),
                                             result['fps'], (w, h))
                    if not writer.isOpened():
                        raise DemoError(f'could not open {video_path} for writing (mp4v codec)')
                writer.write(drawn)
                lines.write(json.dumps({'frame': result['frame'], 'poses': result['poses']})
                            + '\n')
                lines.flush()
                frames += 1
                poses += len(result['poses'])
                bar.update(1)
                if max_frames and frames >= max_frames:
                    break
    except KeyboardInterrupt:
        logger.info('interrupted after %d frames; the outputs so far are kept', frames)
    finally:
        results.close()         # releases the camera or stream
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.release()
    if not frames:
        return {}
    return {lines_path: poses, video_path: frames}


# ----------------------------------------------------------------------------- CLI
def _detector_options(args):
    options = {}
    if args.det_model is not None:
        options['model_file'] = args.det_model
    if args.det_score_thre is not None:
        options['score_thre'] = args.det_score_thre
    if args.det_nms_thre is not None:
        options['nms_thre'] = args.det_nms_thre
    if args.det_input_size is not None:
        options['input_size'] = tuple(args.det_input_size)
    if options and args.detector not in ['hog', 'onnx', *zoo.detector_names()]:
        raise DemoError('--det-* options need --detector hog, onnx or a zoo detector (yolox-m, '
                        '...)')
    if 'model_file' in options and args.detector != 'onnx':
        raise DemoError('--det-model is the model of --detector onnx')
    if args.detector == 'onnx' and 'model_file' not in options:
        raise DemoError('--detector onnx needs --det-model PATH (a YOLOX / RTMDet ONNX export, '
                        'see docs/inference.md)')
    return options


def main(argv=None):
    """Entry point of ``tools/demo.py``; returns the exit status: 0, or 1 after printing one
    ``error: ...`` line to stderr (also when some files of a folder could not be read: the
    others are written and the unreadable ones are listed)."""
    args = demo_parser().parse_intermixed_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s',
                            stream=sys.stderr)
    try:
        opts = list(args.opts) + ['TEST.FLIP_TEST', str(bool(args.flip))]
        if args.device:
            opts += ['DEVICE', args.device]
        cfg = load_config(args.cfg, opts)
        written, failed = run_demo(
            cfg, args.image, args.out, boxes=args.boxes, boxes_file=args.boxes_file,
            instances=args.instances, batch_size=args.batch_size or None,
            kpt_thre=args.kpt_thre, score_thre=args.score_thre, detector=args.detector,
            detector_options=_detector_options(args), max_boxes=args.max_boxes,
            draw_scale=args.draw_scale, max_frames=args.max_frames, backend=args.backend,
            onnx_model=args.onnx_model)
    except (ConfigError, DataError, CheckpointError, DeviceError, InputError, OSError) as exc:
        print('error: ' + ' '.join(str(exc).split()), file=sys.stderr)
        return 1
    if len(written) > 10:
        print(f'{len(written)} JSON files and drawings written to {args.out}: '
              f'{sum(written.values())} poses')
    else:
        for path, count in written.items():
            what = 'frames' if path.endswith('.mp4') else 'poses'
            print(f'{path}: {count} {what}')
    if failed:
        print(f'error: {len(failed)} input file(s) could not be read and were skipped: '
              + '; '.join(' '.join(f.split()) for f in failed), file=sys.stderr)
        return 1
    return 0
