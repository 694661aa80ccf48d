"""The argument parsers of every command-line tool, built from shared pieces.

``--cfg``, ``--device`` and the trailing ``KEY VALUE`` config overrides are defined once
here; each tool's parser adds its own options. The tools turn the parsed options into config
overrides and run (:mod:`mipnet.cli.train_test` for train/test, :mod:`mipnet.cli.demo`,
:mod:`mipnet.cli.export`, :mod:`mipnet.cli.pick_images`, :mod:`mipnet.cli.model_summary`,
:mod:`mipnet.cli.make_synthetic`, :mod:`mipnet.cli.cache_images`,
:mod:`mipnet.cli.zoo`).

Only the standard library (argparse, math) is imported: every layer of the package may build
its parser from here.
"""
import argparse
import math

__all__ = ['flag', 'ACCEPTED_ONLY', 'add_cfg', 'add_device', 'add_overrides', 'train_parser',
           'eval_parser', 'demo_parser', 'export_parser', 'pick_images_parser',
           'summary_parser', 'make_synthetic_parser', 'cache_images_parser', 'zoo_parser',
           'PARSERS']

# Options of the Ascend model-zoo port's README and launchers (and of HRNet's train.py) that
# have no effect here: torchrun's environment decides ranks and addresses, and native AMP
# replaces apex (its opt level and loss scale).
ACCEPTED_ONLY = ('--device_id', '--device_list', '--world_size', '--world-size', '--rank',
                 '--dist_url', '--dist-url', '--dist_backend', '--dist-backend', '--addr',
                 '--port', '--gpu', '--gpus', '--opt_level', '--opt-level', '--loss_scale',
                 '--loss-scale', '--modelDir', '--logDir', '--dataDir', '--prevModelDir')


def flag(value):
    """0/1 (also false/true, off/on) of an option that may be given bare (``--amp``)."""
    text = str(value).strip().lower()
    if text in ('1', 'true', 'on', 'yes'):
        return True
    if text in ('0', 'false', 'off', 'no'):
        return False
    raise argparse.ArgumentTypeError(f'expected 0 or 1, got {value!r}')


# ---- shared pieces -----------------------------------------------------------------------
def add_cfg(parser, help='experiment YAML file'):
    """``--cfg FILE`` (required)."""
    parser.add_argument('--cfg', required=True, help=help)


def add_device(parser):
    """``--device`` (sets DEVICE; empty: the config's)."""
    parser.add_argument('--device', default='', help='auto, npu, cuda or cpu (sets DEVICE)')


def add_overrides(parser, intermixed=False, help='KEY VALUE config overrides'):
    """Trailing ``KEY VALUE`` config overrides as ``opts``: everything after the options
    (``argparse.REMAINDER``), or, for parsers read with ``parse_intermixed_args``
    (``intermixed``), the positionals anywhere between the options."""
    if intermixed:
        parser.add_argument('opts', nargs='*', metavar='KEY VALUE', help=help)
    else:
        parser.add_argument('opts', nargs=argparse.REMAINDER, help=help)


def _run_parser(description):
    """Options common to tools/train.py and tools/test.py."""
    parser = argparse.ArgumentParser(description=description)
    add_cfg(parser)
    parser.add_argument('--data_path', '--data-path', default='',
                        help='dataset root (sets DATASET.ROOT)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None,
                        help='device index of this process (torchrun sets LOCAL_RANK)')
    parser.add_argument('--is_distributed', type=int, default=None,
                        help='accepted for the model-zoo scripts; torchrun decides')
    add_device(parser)
    parser.add_argument('--workers', '-j', type=int, default=None,
                        help='data-loader workers per rank (sets WORKERS)')
    add_overrides(parser)
    return parser


def _model_file_parser(description):
    """Parser of a tool given the checkpoint as a config override, with ``--cfg``; the program
    name is the command's (``demo.py``, ``mipnet-demo``)."""
    parser = argparse.ArgumentParser(
        description=f'{description} Config overrides (KEY VALUE, e.g. TEST.MODEL_FILE '
                    'model.pth or zoo:NAME) follow --cfg.')
    add_cfg(parser)
    return parser


# ---- one parser per tool -----------------------------------------------------------------
def train_parser():
    """tools/train.py."""
    parser = _run_parser('Train MIPNet / HRNet (single process or under torchrun).')
    parser.add_argument('--check_point', '--resume', default='',
                        help='resume the full training state from this checkpoint (this '
                             "project's, the reference's or the Ascend port's)")
    parser.add_argument('--pth_path', default='',
                        help='fine-tune: initialise the weights from this checkpoint (strict)')
    parser.add_argument('--init_checkpoint', default='',
                        help='initialise from an HRNet or MIPNet checkpoint or zoo:NAME, λ '
                             'blocks fresh (sets TRAIN.INIT_CHECKPOINT)')
    parser.add_argument('--max_steps', type=int, default=0,
                        help='performance mode: stop after this many steps, skip validation')
    parser.add_argument('--perf', type=flag, nargs='?', const=True, default=False,
                        help='Ascend option: 1 = performance mode (--perf_steps steps)')
    parser.add_argument('--perf_steps', type=int, default=781,
                        help='steps of --perf 1 (default 781, the Ascend port'"'"'s 8p run)')
    parser.add_argument('--amp', type=flag, nargs='?', const=True, default=None,
                        help='mixed precision on (1) or off (0) (sets TRAIN.AMP)')
    parser.add_argument('--batch_size', '--batch-size', type=int, default=None,
                        help='boxes per device (sets TRAIN.BATCH_SIZE_PER_GPU)')
    parser.add_argument('--epochs', type=int, default=None, help='sets TRAIN.END_EPOCH')
    parser.add_argument('--lr', type=float, default=None, help='sets TRAIN.LR')
    parser.add_argument('--seed', type=int, default=None, help='sets SEED')
    for name in ACCEPTED_ONLY:
        parser.add_argument(name, default=None, help=argparse.SUPPRESS)
    return parser


def eval_parser():
    """tools/test.py."""
    parser = _run_parser('Evaluate a MIPNet / HRNet checkpoint (TEST.MODEL_FILE).')
    parser.add_argument('--model_file', '--pth_path', default='',
                        help='checkpoint to evaluate, or zoo:NAME (sets TEST.MODEL_FILE)')
    parser.add_argument('--crowd-report', '--crowd_report', action='store_true',
                        help='after the AP table, the crowd report: occluded subset, '
                             'crowd-merged boxes, crowd-error rate, people found per instance; '
                             'crowd_report.json and .png in the run folder (sets '
                             'TEST.CROWD_REPORT true)')
    return parser


def demo_parser():
    """tools/demo.py (read with ``parse_intermixed_args``)."""
    p = _model_file_parser('MIPNet demo: poses of every person in images, image folders '
                           'or videos.')
    p.add_argument('--image', required=True,
                   help='image file, folder of images, video, camera index (0) or stream URL '
                        '(rtsp://, http://, ...)')
    p.add_argument('--max-frames', type=int, default=0,
                   help='camera / stream: stop after this many frames (default 0: at the end '
                        'of the stream, or Ctrl-C)')
    p.add_argument('--out', required=True, help='output folder (not the input folder)')
    p.add_argument('--detector', default=None,
                   help='person boxes: none (whole image), file (--boxes / --boxes-file), '
                        'hog (OpenCV people detector, weak, no file needed), onnx (YOLOX / '
                        'RTMDet ONNX export, --det-model), or a detector of the model zoo: '
                        'yolox-nano, yolox-tiny, yolox-s, yolox-m, yolox-l, yolox-x '
                        "(rtmlib's YOLOX, downloaded on first use; tools/zoo.py list). "
                        'Default: file when boxes are given, else none')
    p.add_argument('--det-model', default=None, help='ONNX person detector file (--detector '
                   'onnx)')
    p.add_argument('--det-score-thre', type=_finite, default=None,
                   help='detections scoring below this are dropped (default: onnx 0.3, hog '
                        'SVM margin 0)')
    p.add_argument('--det-nms-thre', type=_fraction, default=None,
                   help='IoU NMS threshold of the detector (default 0.45)')
    p.add_argument('--det-input-size', type=_positive, nargs=2, default=None,
                   metavar=('W', 'H'),
                   help='input size of an ONNX detector with dynamic input (default 640 640)')
    p.add_argument('--boxes-file', default=None,
                   help='person boxes: COCO annotation file, COCO results list, list of '
                        '{"bbox", "score"} for every image, or {image name: [boxes]}')
    p.add_argument('--boxes', nargs='+', action='extend', default=None, metavar='X,Y,W,H',
                   help='person boxes used for every image')
    p.add_argument('--instances', default='', help='instances to run, e.g. 0,1 (default: all)')
    p.add_argument('--flip', action='store_true', help='flip test (sets TEST.FLIP_TEST true; '
                   'off by default in the demo)')
    add_device(p)
    p.add_argument('--batch-size', type=int, default=0,
                   help='boxes per forward pass (default TEST.BATCH_SIZE_PER_GPU, at most '
                        'TEST.CPU_BATCH_SIZE on the CPU)')
    p.add_argument('--backend', choices=('pytorch', 'onnxruntime'), default='pytorch',
                   help='pytorch (TEST.FUSE_BN / CHANNELS_LAST / COMPILE apply) or '
                        'onnxruntime (the shared-trunk ONNX graph, exported at start or '
                        'given with --onnx-model; needs pip install -e .[onnx])')
    p.add_argument('--onnx-model', default=None,
                   help='with --backend onnxruntime: the graph of tools/export_onnx.py '
                        '--graph instances (TEST.MODEL_FILE is then not read)')
    p.add_argument('--kpt-thre', type=_fraction, default=None,
                   help='joints drawn above this confidence (default TEST.IN_VIS_THRE)')
    p.add_argument('--score-thre', type=_fraction, default=0.0,
                   help='poses scoring below this are left out of the JSON and the drawing')
    p.add_argument('--max-boxes', type=_positive, default=1000,
                   help='an image with more person boxes than this is an error (default '
                        '1000)')
    p.add_argument('--draw-scale', type=float, default=None, metavar='S',
                   help='draw the pictures S times the input size (default: small images '
                        'upscaled so that the shorter side is at least 512 px); the JSON '
                        'stays in image pixels')
    add_overrides(p, intermixed=True, help='config overrides')
    return p


def export_parser():
    """tools/export_onnx.py (read with ``parse_intermixed_args``)."""
    p = _model_file_parser('Export MIPNet (images, lambda_vec) or HRNet (images) to ONNX '
                           'with a dynamic batch and verify it with onnxruntime.')
    p.add_argument('--out', required=True, help='output .onnx file')
    p.add_argument('--instances', type=int, default=None,
                   help='λ length N (sets MODEL.NUM_INSTANCES; must match the checkpoint)')
    p.add_argument('--opset', type=int, default=18,
                   help='ONNX opset (default and minimum 18, the torch.export-based '
                        "exporter's)")
    p.add_argument('--graph', choices=('lambda', 'instances'), default='lambda',
                   help="lambda: (images, lambda_vec (B, N)) -> heatmaps, one instance per "
                        "box; instances: (images, lambdas (K, N)) -> heatmaps (B, K, J, h, w) "
                        "with the trunk shared by the K instances, the graph of "
                        "PoseInferencer(backend='onnxruntime') (default lambda)")
    p.add_argument('--random-weights', action='store_true',
                   help='export randomly initialised weights (smoke tests) instead of '
                        'TEST.MODEL_FILE')
    p.add_argument('--verify-batch-sizes', default='1,3',
                   help='batch sizes of the onnxruntime check (default 1,3)')
    add_overrides(p, intermixed=True, help='config overrides')
    return p


def pick_images_parser():
    """tools/pick_images.py."""
    p = argparse.ArgumentParser(description="Pick the validation images where MIPNet's "
                                            'second instance matters, for the demo pictures.')
    p.add_argument('--gt', required=True, help='COCO keypoint annotation file of the set')
    p.add_argument('--results-dir', required=True,
                   help='results/ folder of tools/test.py (per-instance result files)')
    p.add_argument('--set', default='val', help='set name in the result file names (val)')
    p.add_argument('--images', required=True, help='image folder of the set')
    p.add_argument('--out', required=True, help='folder the picked images are copied to '
                   '(emptied first)')
    p.add_argument('--num', type=int, default=4, help='number of images (default 4)')
    p.add_argument('--score-thre', type=_fraction, default=0.2,
                   help='poses scoring below it do not count (default 0.2)')
    return p


def summary_parser():
    """tools/model_summary.py (:mod:`mipnet.cli.model_summary`)."""
    parser = argparse.ArgumentParser(description='Parameter count and FLOPs per box.')
    add_cfg(parser)
    add_overrides(parser)
    return parser


def _count(text):
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
    return value


def _positive(text):
    """An integer >= 1."""
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def _finite(text):
    """A finite number (no nan, no inf: a NaN threshold compares False with everything)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f'must be a finite number, got {text}')
    return value


def _fraction(text):
    """A finite number in [0, 1] (thresholds of scores and confidences)."""
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must be a number in [0, 1], got {text}')
    return value


def make_synthetic_parser():
    """tools/make_synthetic.py (``--image-size`` None: the generator's default size)."""
    parser = argparse.ArgumentParser(
        description='Write the synthetic crowded-people keypoint dataset (COCO format).')
    parser.add_argument('--out', required=True, help='output folder (created)')
    parser.add_argument('--num-train', type=_count, required=True, help='training images')
    parser.add_argument('--num-val', type=_count, required=True, help='validation images')
    parser.add_argument('--seed', type=_count, default=0, help='dataset seed (default 0)')
    parser.add_argument('--image-size', type=_positive, nargs=2, metavar=('W', 'H'),
                        help="image width and height (default: the generator's, "
                             'mipnet.data.synthetic.DEFAULT_IMAGE_SIZE)')
    parser.add_argument('--workers', type=_positive, default=1,
                        help='worker processes (default 1); output does not depend on it')
    parser.add_argument('--jpeg-quality', type=_positive, default=90, help='(default 90)')
    parser.add_argument('--preview', metavar='PNG',
                        help='also draw one val image with its keypoints into PNG')
    parser.add_argument('--preview-index', type=_count, default=None,
                        help='which val image --preview draws (default: the most crowded, '
                             'the largest people in overlapping boxes)')
    parser.add_argument('--num-val-ochuman', type=_count, default=0,
                        help='also write this many images of the OCHuman-like split '
                             'val_ochuman (default 0)')
    parser.add_argument('--ochuman-json', metavar='JSON',
                        help='with --num-val-ochuman: also show the statistics of this '
                             'OCHuman annotation file (COCO format)')
    return parser


def cache_images_parser():
    """tools/cache_images.py."""
    parser = argparse.ArgumentParser(
        description='Decode the images of a config\'s datasets once into a raw image cache '
                    '(use it with DATASET.IMAGE_CACHE <folder>; same pixels, no JPEG decode '
                    'in the workers).')
    add_cfg(parser)
    parser.add_argument('--out', required=True, help='cache folder (created)')
    parser.add_argument('--splits', nargs='+', choices=('train', 'test'),
                        default=['train', 'test'],
                        help='the datasets whose images are cached (default: train test)')
    parser.add_argument('--data_path', '--data-path', default='',
                        help='dataset root (sets DATASET.ROOT)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a cache already in --out')
    add_overrides(parser)
    return parser


def zoo_parser():
    """tools/zoo.py (``mipnet-zoo``)."""
    parser = argparse.ArgumentParser(
        description='The model zoo: weights and person detectors by '
        'name (zoo:NAME, --detector yolox-m), cached in $MIPNET_HOME (default '
        '~/.cache/mipnet).')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    listing = commands.add_parser('list', help='names, sizes, configs and what is cached')
    listing.add_argument('--kind', choices=('pose', 'imagenet', 'detector'), default=None,
                         help='only the files of this kind')
    fetch = commands.add_parser('download', help='download, verify and prepare files now '
                                '(as a first use would); prints their local paths')
    fetch.add_argument('names', nargs='+', metavar='NAME', help='zoo names (tools/zoo.py list)')
    convert = commands.add_parser('convert', help="write a local mmpose checkpoint in this "
                                  "port's keys (loadable by --pth_path, TEST.MODEL_FILE, ...)")
    convert.add_argument('src', help='mmpose 1.x or 0.x HRNet checkpoint (.pth)')
    convert.add_argument('dst', help='output .pth file')
    return parser


#: tool name -> parser builder
PARSERS = {'train': train_parser, 'test': eval_parser, 'demo': demo_parser,
           'export_onnx': export_parser, 'pick_images': pick_images_parser,
           'model_summary': summary_parser, 'make_synthetic': make_synthetic_parser,
           'cache_images': cache_images_parser, 'zoo': zoo_parser}
