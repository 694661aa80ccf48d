"""Model registry: ``build_model(cfg)`` picks the architecture by ``MODEL.NAME``."""
import logging

from mipnet import zoo
from mipnet.config import ConfigError
from mipnet.models.hrnet import PoseHighResolutionNet
from mipnet.utils.checkpoint import load_matching_weights, load_model_weights

logger = logging.getLogger(__name__)

__all__ = ['MODEL_BUILDERS', 'build_model', 'init_from_checkpoint', 'is_lambda_block_key',
           'load_weights', 'model_meta', 'PoseHighResolutionNet']

# State-dict prefixes of the λ (MIMB) blocks, the only tensors an HRNet checkpoint lacks.
LAMBDA_BLOCK_PREFIXES = tuple(f'stage{i}_se.' for i in range(1, 5))


def _check_input_size(cfg):
    # Four HRNet branches at strides 4..32 must tile the input exactly for sum fusion.
    width, height = cfg.MODEL.IMAGE_SIZE
    if width % 32 or height % 32:
        raise ConfigError(f'MODEL.IMAGE_SIZE {list(cfg.MODEL.IMAGE_SIZE)} must be multiples of 32 '
                         'for HRNet')
    if [width // 4, height // 4] != list(cfg.MODEL.HEATMAP_SIZE):
        raise ConfigError(f'MODEL.HEATMAP_SIZE {list(cfg.MODEL.HEATMAP_SIZE)} must be a quarter of '
                         f'MODEL.IMAGE_SIZE {list(cfg.MODEL.IMAGE_SIZE)} for HRNet')


def _hrnet_args(cfg):
    extra = cfg.MODEL.EXTRA
    for key in ('STAGE2', 'STAGE3', 'STAGE4', 'FINAL_CONV_KERNEL'):
        if key not in extra:
            raise ConfigError(f'MODEL.EXTRA.{key} is missing; see experiments/coco/hrnet/*.yaml')
    return dict(extra=extra, num_joints=cfg.MODEL.NUM_JOINTS,
                num_instances=cfg.MODEL.NUM_INSTANCES)


def _pose_hrnet(cfg):
    return PoseHighResolutionNet(se_modules=(False,) * 4, **_hrnet_args(cfg))


def _pose_hrnet_se_lambda(cfg):
    if not any(cfg.MODEL.SE_MODULES):
        raise ConfigError('pose_hrnet_se_lambda needs at least one true entry in MODEL.SE_MODULES')
    return PoseHighResolutionNet(se_modules=cfg.MODEL.SE_MODULES,
                                 lambda_identity_start=cfg.MODEL.LAMBDA_IDENTITY_START,
                                 **_hrnet_args(cfg))


MODEL_BUILDERS = {
    'pose_hrnet': _pose_hrnet,
    'pose_hrnet_se_lambda': _pose_hrnet_se_lambda,
}


def build_model(cfg, is_train=False):
    """Build the network named by ``cfg.MODEL.NAME``.

    With ``is_train`` and ``MODEL.INIT_WEIGHTS`` the reference initialisation runs and
    ``MODEL.PRETRAINED`` (if set) is loaded, filtered by ``MODEL.EXTRA.PRETRAINED_LAYERS``.

    Raises:
        ConfigError: unknown model name (listing the valid ones) or inconsistent sizes.
    """
    name = cfg.MODEL.NAME
    if name not in MODEL_BUILDERS:
        raise ConfigError(f'unknown MODEL.NAME {name!r}; valid: {", ".join(sorted(MODEL_BUILDERS))}')
    _check_input_size(cfg)
    model = MODEL_BUILDERS[name](cfg)
    if is_train and cfg.MODEL.INIT_WEIGHTS:
        # TRAIN.INIT_CHECKPOINT overwrites every tensor MODEL.PRETRAINED would fill, so the
        # ImageNet file is not read then (the result is the same).
        model.init_weights('' if cfg.TRAIN.INIT_CHECKPOINT else
                           zoo.local_path(cfg.MODEL.PRETRAINED, 'imagenet'))
    return model


def model_meta(cfg):
    """The settings that define what a checkpoint's weights compute, as checkpoints record
    them (``meta``): the network (name, joints, branch widths; for λ models the λ places,
    instances and λ form) and the input it was trained on (input and heatmap size, sigma)."""
    extra = cfg.MODEL.EXTRA
    meta = {'MODEL.NAME': cfg.MODEL.NAME, 'MODEL.NUM_JOINTS': int(cfg.MODEL.NUM_JOINTS),
            'MODEL.IMAGE_SIZE': [int(v) for v in cfg.MODEL.IMAGE_SIZE],
            'MODEL.HEATMAP_SIZE': [int(v) for v in cfg.MODEL.HEATMAP_SIZE],
            'MODEL.SIGMA': float(cfg.MODEL.SIGMA)}
    for stage in ('STAGE2', 'STAGE3', 'STAGE4'):
        if stage in extra:
            meta[f'MODEL.EXTRA.{stage}.NUM_CHANNELS'] = [int(c) for c in
                                                         extra[stage]['NUM_CHANNELS']]
    if cfg.MODEL.NAME != 'pose_hrnet':
        se = [bool(s) for s in cfg.MODEL.SE_MODULES]
        meta.update({'MODEL.SE_MODULES': se + [False] * (4 - len(se)),
                     'MODEL.NUM_INSTANCES': int(cfg.MODEL.NUM_INSTANCES),
                     'MODEL.LAMBDA_IDENTITY_START': bool(cfg.MODEL.LAMBDA_IDENTITY_START)})
    return meta


# What an initialisation checkpoint must agree on: its λ blocks (if any) compute something
# else under the other λ form. Widths and joints are checked by the tensor shapes; another
# input size or sigma is a legitimate start for a new training run.
INIT_META_KEYS = ('MODEL.LAMBDA_IDENTITY_START',)


def load_weights(model, cfg, path):
    """Load the checkpoint ``path`` into ``model`` (built from ``cfg``) strictly, refusing a
    checkpoint whose recorded settings (:func:`model_meta`) differ from ``cfg``'s; returns
    the state dict loaded."""
    return load_model_weights(model, zoo.local_path(path, 'pose'), expected_meta=model_meta(cfg))


def is_lambda_block_key(name):
    """True for state-dict keys of the λ-modulated SE blocks (``stage{1..4}_se.*``)."""
    return name.startswith(LAMBDA_BLOCK_PREFIXES)


def init_from_checkpoint(model, path, cfg=None):
    """Initialise a model from an HRNet or MIPNet checkpoint, as the reference MIPNet recipe
    starts from a COCO-trained HRNet (loaded non-strictly, λ blocks freshly initialised).

    Every tensor of the checkpoint is loaded; only λ-block tensors may be absent from it and
    are left at their initial values. Unknown keys, shape mismatches and other missing keys
    raise one CheckpointError; with ``cfg``, so does a checkpoint recording the other λ form
    (``MODEL.LAMBDA_IDENTITY_START``). ``path`` may be ``zoo:NAME`` (:mod:`mipnet.zoo`).

    Returns:
        sorted list of the keys left initialised (empty for a MIPNet checkpoint).
    """
    path = zoo.local_path(path, 'pose')
    left = load_matching_weights(model, path, is_lambda_block_key,
                                 expected_meta=None if cfg is None else model_meta(cfg),
                                 meta_keys=INIT_META_KEYS)
    total = len((model.module if hasattr(model, 'module') else model).state_dict())
    blocks = sorted({k.split('.', 1)[0] for k in left})
    logger.info('=> initialised from %s: loaded %d of the model\'s %d tensors; %s', path,
                total - len(left), total,
                f'left {len(left)} tensors of {", ".join(blocks)} initialised (λ blocks)'
                if left else 'none left initialised')
    return left
