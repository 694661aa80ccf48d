"""Model registry: ``build_model(cfg)`` picks the architecture by ``MODEL.NAME``."""
import logging

from mipnet.config import ConfigError
from mipnet.models.hrnet import PoseHighResolutionNet

logger = logging.getLogger(__name__)

__all__ = ['MODEL_BUILDERS', 'build_model', 'PoseHighResolutionNet']


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
    return PoseHighResolutionNet(se_modules=cfg.MODEL.SE_MODULES, **_hrnet_args(cfg))


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
        model.init_weights(cfg.MODEL.PRETRAINED)
    return model
