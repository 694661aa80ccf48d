"""The files of the model zoo: what each name stands for, where it comes from, how it is
checked and which configs it fits.

A name is used as ``zoo:NAME`` wherever a weights path is accepted (``TRAIN.INIT_CHECKPOINT``
/ ``--init_checkpoint``, ``TEST.MODEL_FILE``, ``MODEL.PRETRAINED``,
``PoseInferencer(checkpoint=...)``) and, for person detectors, as the detector name
(``detector='yolox-m'``). The published file name is accepted as well as the short name.

Digests: mmpose publishes every checkpoint as ``<name>-<first 8 hex digits of its
SHA-256>_<date>.pth`` (``tools/misc/publish_model.py``), which is what ``torch.hub``'s
``check_hash`` checks, so those files are verified against that prefix. The other files
(the ImageNet HRNet weights, whose name suffix is not documented as a SHA-256; rtmlib's
detector zips, whose suffix is that of the PyTorch checkpoint they were exported from; the
files only on Google Drive) have no published digest: their SHA-256 is recorded on first
download and checked after (:mod:`mipnet.zoo.cache`).
"""
import dataclasses

__all__ = ['ZooEntry', 'ENTRIES', 'LAYOUTS', 'KINDS']

#: how a file's content is turned into what this port loads
LAYOUTS = {
    'hrnet': "this port's (the official HRNet / MIPNet) state-dict keys, used as is",
    'mmpose-1.x': 'mmpose 1.x checkpoint (backbone.*, head.final_layer.*), converted',
    'mmpose-0.x': 'mmpose 0.x checkpoint (backbone.*, keypoint_head.final_layer.*), converted',
    'rtmlib-zip': "rtmlib's zip of an mmdeploy ONNX export; end2end.onnx is unpacked",
}
#: what a file is used as
KINDS = {
    'pose': 'pose weights: TEST.MODEL_FILE, TRAIN.INIT_CHECKPOINT, --init_checkpoint',
    'imagenet': 'ImageNet-pretrained backbone: MODEL.PRETRAINED',
    'detector': 'person detector: detector= / --detector',
}


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One file of the zoo.

    Args:
        name: short name (``zoo:NAME``; detectors: the detector name).
        kind: a key of :data:`KINDS`.
        filename: the published file name (also accepted as a name; the cache file name).
        url: plain HTTPS download, or '' when the file has none (``manual`` says how).
        layout: a key of :data:`LAYOUTS`.
        configs: experiment configs (repository paths) the weights fit.
        sha256_prefix: published leading hex digits of the file's SHA-256, or '' (none
            published: recorded on first download).
        approx_mb: download size in MB as estimated from the parameter count (float32), for
            ``tools/zoo.py list`` before a download; 0 when unknown.
        manual: how to get a file without a plain download (where to find it).
        detector_options: constructor arguments of the ONNX detector (input size).
        description: one line for ``tools/zoo.py list``.
    """

    name: str
    kind: str
    filename: str
    url: str
    layout: str
    configs: tuple = ()
    sha256_prefix: str = ''
    approx_mb: float = 0.0
    manual: str = ''
    detector_options: tuple = ()
    description: str = ''

    def __post_init__(self):
        if self.kind not in KINDS or self.layout not in LAYOUTS:
            raise ValueError(f'zoo entry {self.name}: kind {self.kind!r} / layout '
                             f'{self.layout!r} unknown')
        if not self.url and not self.manual:
            raise ValueError(f'zoo entry {self.name}: no url and no manual instructions')


_MMPOSE_V1 = 'https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/'
_MMPOSE_V0 = 'https://download.openmmlab.com/mmpose/top_down/hrnet/'
_PRETRAIN = 'https://download.openmmlab.com/mmpose/pretrain_models/'
_RTMLIB = 'https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/'
# The HRNet project's model zoo (deep-high-resolution-net.pytorch README) and the MIPNet
# reference's MODEL_ZOO.md: Google Drive / OneDrive only.
_HRNET_DRIVE = ('Google Drive folder https://drive.google.com/drive/folders/'
                '1hOTihvbyIxsm5ygDpbUuJ7O_tzv4oXjC (OneDrive: https://1drv.ms/f/s!AhIXJn_J-blW'
                '231MH2krnmLq5kkQ), the HRNet project\'s model zoo, folder pose_coco')
_MIPNET_DRIVE = ('Google Drive file https://drive.google.com/file/d/1L_GZ_ppb896X01HTdjAg5F'
                 'cYXAiir5QI/view, the "model" link of the MIPNet reference\'s MODEL_ZOO.md')

_COCO_W48 = ('experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml',
             'experiments/ochuman/hrnet/w48_384x288_adam_lr1e-3.yaml',
             'experiments/coco/baseline/w48_384x288_adam_lr1e-3.yaml')
_COCO_W32 = ('experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml',
             'experiments/ochuman/hrnet/w32_256x192_adam_lr1e-3.yaml',
             'experiments/coco/baseline/w32_256x192_adam_lr1e-3.yaml')


def _hrnet_official(width, size, params_m):
    return ZooEntry(
        name=f'hrnet-{width}-coco-{size}', kind='pose',
        filename=f'pose_hrnet_{width}_{size}.pth', url='', layout='hrnet',
        configs=(f'experiments/coco/hrnet/{width}_{size}_adam_lr1e-3.yaml',
                 f'experiments/ochuman/hrnet/{width}_{size}_adam_lr1e-3.yaml',
                 f'experiments/coco/baseline/{width}_{size}_adam_lr1e-3.yaml'),
        approx_mb=round(params_m * 4, 0), manual=_HRNET_DRIVE,
        description=f'official HRNet-{width.upper()} COCO {size} (the reference MIPNet '
                    f'recipe\'s TRAIN.INIT_CHECKPOINT)')


def _yolox(size, digest, input_size, params_m):
    filename = f'yolox_{size}_8xb8-300e_humanart-{digest}.zip'
    return ZooEntry(
        name=f'yolox-{size}', kind='detector', filename=filename, url=_RTMLIB + filename,
        layout='rtmlib-zip', approx_mb=round(params_m * 4, 0),
        detector_options=(('input_size', input_size),),
        description=f'YOLOX-{size} person detector (HumanArt + COCO), rtmlib\'s ONNX export, '
                    f'{input_size[0]}x{input_size[1]} input')


_ALL = (
    ZooEntry(
        name='mmpose-hrnet-w48-coco-384x288', kind='pose',
        filename='td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth',
        url=_MMPOSE_V1 + 'td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth',
        layout='mmpose-1.x', configs=_COCO_W48, sha256_prefix='c161b7de', approx_mb=254,
        description='mmpose HRNet-W48 COCO 384x288 (mmpose\'s table: 76.7 AP on COCO val2017, '
                    'detected boxes); an init checkpoint for the COCO MIPNet W48 configs'),
    ZooEntry(
        name='mmpose-hrnet-w32-coco-256x192', kind='pose',
        filename='td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth',
        url=_MMPOSE_V1 + 'td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth',
        layout='mmpose-1.x', configs=_COCO_W32, sha256_prefix='81c58e40', approx_mb=114,
        description='mmpose HRNet-W32 COCO 256x192 (mmpose\'s table: 74.9 AP on COCO val2017, '
                    'detected boxes); an init checkpoint for the COCO MIPNet W32 configs'),
    ZooEntry(
        name='mmpose-hrnet-w32-crowdpose-256x192', kind='pose',
        filename='hrnet_w32_crowdpose_256x192-960be101_20201227.pth',
        url=_MMPOSE_V0 + 'hrnet_w32_crowdpose_256x192-960be101_20201227.pth',
        layout='mmpose-0.x',
        configs=('experiments/crowdpose/hrnet/w32_256x192_adam_lr1e-3.yaml',
                 'experiments/crowdpose/hrnet/w32_256x192_adam_lr1e-3_trainval_test.yaml',
                 'experiments/crowdpose/baseline/w32_256x192_adam_lr1e-3.yaml',
                 'experiments/crowdpose/baseline/w32_256x192_adam_lr1e-3_trainval_test.yaml'),
        sha256_prefix='960be101', approx_mb=114,
        description='mmpose 0.x HRNet-W32 CrowdPose 256x192 (mmpose\'s table: 67.5 AP on '
                    'CrowdPose test, YOLOv3 boxes)'),
    ZooEntry(
        name='hrnet-w32-imagenet', kind='imagenet', filename='hrnet_w32-36af842e.pth',
        url=_PRETRAIN + 'hrnet_w32-36af842e.pth', layout='hrnet',
        configs=('experiments/crowdpose/hrnet/w32_*.yaml', 'experiments/*/baseline/w32_*.yaml'),
        approx_mb=158,
        description='ImageNet-pretrained HRNet-W32 (MODEL.PRETRAINED of the W32 CrowdPose and '
                    'baseline configs), the file mmpose\'s configs download'),
    ZooEntry(
        name='hrnet-w48-imagenet', kind='imagenet', filename='hrnet_w48-8ef0771d.pth',
        url=_PRETRAIN + 'hrnet_w48-8ef0771d.pth', layout='hrnet',
        configs=('experiments/crowdpose/hrnet/w48_*.yaml', 'experiments/*/baseline/w48_*.yaml'),
        approx_mb=311,
        description='ImageNet-pretrained HRNet-W48 (MODEL.PRETRAINED of the W48 CrowdPose and '
                    'baseline configs), the file mmpose\'s configs download'),
    _hrnet_official('w48', '384x288', 63.6),
    _hrnet_official('w48', '256x192', 63.6),
    _hrnet_official('w32', '384x288', 28.5),
    _hrnet_official('w32', '256x192', 28.5),
    ZooEntry(
        name='mipnet-w48-coco-384x288', kind='pose', filename='mipnet_w48_384x288_coco.pth',
        url='', layout='hrnet',
        configs=('experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml',
                 'experiments/ochuman/hrnet/w48_384x288_adam_lr1e-3.yaml'),
        approx_mb=255, manual=_MIPNET_DRIVE,
        description='the MIPNet reference\'s released W48 384x288 COCO model (78.8 AP COCO '
                    'val, 74.1 AP OCHuman val, ground-truth boxes; its MODEL_ZOO.md)'),
    _yolox('nano', '40f6f0d0', (416, 416), 0.91),
    _yolox('tiny', '6f3252f9', (416, 416), 5.06),
    _yolox('s', '3ef259a7', (640, 640), 9.0),
    _yolox('m', 'c2c7a14a', (640, 640), 25.3),
    _yolox('l', 'ce1d7a62', (640, 640), 54.2),
    _yolox('x', 'a39d44ed', (640, 640), 99.1),
)

#: short name -> entry
ENTRIES = {entry.name: entry for entry in _ALL}
