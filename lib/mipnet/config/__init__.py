"""Configuration: yacs defaults, YAML loading, ``KEY VALUE`` overrides and validation.

Public API: :func:`get_cfg`, :func:`load_config`, :class:`ConfigError`.
"""
import ast
import logging
import os

import yaml
from yacs.config import CfgNode

from mipnet.config.defaults import DEPRECATED_KEYS, default_config

__all__ = ['ConfigError', 'get_cfg', 'load_config', 'run_output_dir', 'run_differences']

logger = logging.getLogger(__name__)
_DEPRECATED_HINT = 'reference keys nothing here reads; see DEPRECATED_KEYS in ' \
    'lib/mipnet/config/defaults.py'

_CHOICES = {
    'DEVICE': ('auto', 'npu', 'cuda', 'cpu'),
    'MODEL.TARGET_TYPE': ('gaussian',),
    'TRAIN.OPTIMIZER': ('adam', 'adamw', 'sgd'),
    'TEST.POST_PROCESS_TYPE': ('quarter', 'dark'),
    'TEST.NMS_AREA': ('box', 'pose'),
}


# Dataset names of the reference launchers (DATASET.TRAIN_DATASET / TEST_DATASET of
# scripts/train and scripts/test) and the dataset each one means here:
# the λ variants are the same data with the multi-instance targets, which every dataset
# here builds.
DATASET_ALIASES = {
    'coco_lambda': 'coco',
    'coco_lambda_012': 'coco',
    'coco_lambda_0123': 'coco',
    'crowdpose_lambda': 'crowdpose',
}


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the file or key."""


def get_cfg():
    """Return a mutable copy of the default configuration."""
    return default_config()


def _get(cfg, dotted):
    node = cfg
    for part in dotted.split('.'):
        node = node[part]
    return node


def _validate(cfg):
    for key, choices in _CHOICES.items():
        value = _get(cfg, key)
        if str(value).lower() not in choices:
            raise ConfigError(f'{key} = {value!r} is not one of {", ".join(choices)}')
    for key in ('MODEL.IMAGE_SIZE', 'MODEL.HEATMAP_SIZE'):
        value = _get(cfg, key)
        if len(value) != 2 or any(int(v) <= 0 for v in value):
            raise ConfigError(f'{key} = {list(value)} must be two positive integers [width, height]')
    if cfg.MODEL.NUM_JOINTS <= 0:
        raise ConfigError(f'MODEL.NUM_JOINTS = {cfg.MODEL.NUM_JOINTS} must be positive')
    if cfg.MODEL.NUM_INSTANCES < 1:
        raise ConfigError(f'MODEL.NUM_INSTANCES = {cfg.MODEL.NUM_INSTANCES} must be at least 1')
    if len(cfg.MODEL.SE_MODULES) > 4:
        raise ConfigError(f'MODEL.SE_MODULES has {len(cfg.MODEL.SE_MODULES)} entries; at most 4')
    weights = list(cfg.LOSS.INSTANCE_WEIGHTS)
    if weights and (len(weights) != cfg.MODEL.NUM_INSTANCES or min(weights) < 0
                    or sum(weights) <= 0):
        raise ConfigError(f'LOSS.INSTANCE_WEIGHTS = {weights} must be empty or '
                          f'{cfg.MODEL.NUM_INSTANCES} non-negative numbers (MODEL.NUM_INSTANCES), '
                          'not all 0')
    for key in ('TRAIN.BATCH_SIZE_PER_GPU', 'TEST.BATCH_SIZE_PER_GPU'):
        if _get(cfg, key) <= 0:
            raise ConfigError(f'{key} = {_get(cfg, key)} must be positive')
    if cfg.TRAIN.END_EPOCH < cfg.TRAIN.BEGIN_EPOCH:
        raise ConfigError('TRAIN.END_EPOCH must not be smaller than TRAIN.BEGIN_EPOCH')
    if not cfg.TRAIN.LR > 0 or cfg.TRAIN.LR == float('inf'):
        raise ConfigError(f'TRAIN.LR = {cfg.TRAIN.LR} must be a positive number')
    if cfg.WORKERS < 0:
        raise ConfigError(f'WORKERS = {cfg.WORKERS} must be >= 0')


def _normalise(cfg):
    # Reference files list three SE flags; the fourth place (stage-4 output) defaults off.
    cfg.MODEL.SE_MODULES = [bool(v) for v in cfg.MODEL.SE_MODULES] + \
        [False] * (4 - len(cfg.MODEL.SE_MODULES))
    cfg.DEVICE = cfg.DEVICE.lower()
    cfg.TRAIN.OPTIMIZER = cfg.TRAIN.OPTIMIZER.lower()
    cfg.TEST.POST_PROCESS_TYPE = cfg.TEST.POST_PROCESS_TYPE.lower()
    cfg.TEST.NMS_AREA = cfg.TEST.NMS_AREA.lower()
    for key in ('DATASET', 'TRAIN_DATASET', 'TEST_DATASET'):
        name = cfg.DATASET[key].lower()
        cfg.DATASET[key] = DATASET_ALIASES.get(name, name)
    cfg.DATASET.TRAIN_DATASET = cfg.DATASET.TRAIN_DATASET or cfg.DATASET.DATASET
    cfg.DATASET.TEST_DATASET = cfg.DATASET.TEST_DATASET or cfg.DATASET.DATASET
    if cfg.DATA_DIR:
        for key in ('DATASET.ROOT', 'DATASET.IMAGE_CACHE', 'MODEL.PRETRAINED',
                    'TEST.MODEL_FILE', 'TRAIN.INIT_CHECKPOINT'):
            section, name = key.split('.')
            value = cfg[section][name]
            if value and not os.path.isabs(value) and not value.startswith('zoo:'):
                cfg[section][name] = os.path.join(cfg.DATA_DIR, value)


def _python_literal(value):
    """An override value yacs can parse: yacs uses ``literal_eval``, which knows Python's
    True/False but not YAML's ``true``/``[false, true]``; such values are read as YAML."""
    if not isinstance(value, str):
        return value
    try:
        ast.literal_eval(value)
        return value
    except (ValueError, SyntaxError):
        pass
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return repr(parsed) if isinstance(parsed, (bool, int, float, list)) else value


def _merge(cfg, what, fn):
    try:
        fn()
    except KeyError as exc:
        # yacs: "Non-existent config key: TRAIN.FOO"
        msg = exc.args[0] if exc.args else str(exc)
        raise ConfigError(f'{what}: {msg}. Check the spelling; valid keys are listed in '
                          'lib/mipnet/config/defaults.py') from None
    except (ValueError, TypeError, AssertionError) as exc:
        raise ConfigError(f'{what}: {exc}') from None


def _drop_deprecated(mapping, prefix=''):
    """Remove the deprecated keys from a loaded YAML mapping, in place; returns their
    dotted names."""
    dropped = []
    for key in list(mapping):
        name = f'{prefix}{key}'
        if name in DEPRECATED_KEYS:
            del mapping[key]
            dropped.append(name)
        elif isinstance(mapping[key], dict):
            dropped += _drop_deprecated(mapping[key], name + '.')
    return dropped


def load_config(cfg_file=None, opts=()):
    """Merge a YAML file and ``KEY VALUE`` overrides into the defaults.

    Args:
        cfg_file: path of a YAML experiment file, or None for the defaults only.
        opts: flat sequence ``[KEY1, VALUE1, KEY2, VALUE2, ...]`` (yacs ``merge_from_list``).

    Keys of the reference files that nothing reads (``defaults.DEPRECATED_KEYS``) are
    ignored: in the file with one INFO log line (the shipped reference files set them), in
    ``opts`` with one warning naming them. (yacs itself ignores them, one warning per key,
    in its ``merge_from_*`` methods.)

    Returns:
        A frozen :class:`yacs.config.CfgNode`.

    Raises:
        ConfigError: missing or malformed file, unknown key, wrongly typed or invalid value.
    """
    cfg = get_cfg()
    if cfg_file:
        if not os.path.isfile(cfg_file):
            raise ConfigError(f'config file not found: {cfg_file}')
        try:
            with open(cfg_file, encoding='utf-8') as f:
                loaded = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ConfigError(f'config file {cfg_file} is not valid YAML: {exc}') from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f'config file {cfg_file} must hold a mapping of keys, '
                              f'not {type(loaded).__name__}')
        ignored = _drop_deprecated(loaded)
        if ignored:
            logger.info('config file %s: ignoring %s (%s)', cfg_file, ', '.join(ignored),
                        _DEPRECATED_HINT)
        _merge(cfg, f'config file {cfg_file}',
               lambda: cfg.merge_from_other_cfg(CfgNode(loaded)))
    opts = list(opts or ())
    opts = [_python_literal(o) if i % 2 else o for i, o in enumerate(opts)]
    if len(opts) % 2:
        raise ConfigError(f'overrides must be KEY VALUE pairs; got an odd number: {opts}')
    ignored = [k for k in opts[0::2] if k in DEPRECATED_KEYS]
    if ignored:
        logger.warning('ignoring the override(s) of %s (%s)', ', '.join(ignored),
                       _DEPRECATED_HINT)
        opts = [o for k, v in zip(opts[0::2], opts[1::2]) if k not in DEPRECATED_KEYS
                for o in (k, v)]
    _merge(cfg, 'command-line override', lambda: cfg.merge_from_list(opts))
    _normalise(cfg)
    _validate(cfg)
    cfg.freeze()
    return cfg


def config_name(cfg_file):
    """Experiment name used in output paths: the YAML file name without extension."""
    return os.path.splitext(os.path.basename(cfg_file))[0] if cfg_file else 'default'


def run_output_dir(cfg, cfg_file, root=None):
    """``<OUTPUT_DIR>/<dataset>/<model>/<config-name>``, refusing paths that escape the root.

    Raises:
        ConfigError: when a component of the path (from the config) leaves ``OUTPUT_DIR``.
    """
    root = os.path.abspath(root if root is not None else cfg.OUTPUT_DIR)
    path = os.path.abspath(os.path.join(root, cfg.DATASET.DATASET, cfg.MODEL.NAME,
                                        config_name(cfg_file)))
    if os.path.commonpath([root, path]) != root or path == root:
        raise ConfigError(f'output path {path} derived from DATASET.DATASET / MODEL.NAME / config '
                          f'name escapes OUTPUT_DIR {root}')
    return path


# Keys whose value changes what a training run computes (model, training data, schedule).
# A checkpoint written under other values must not be resumed silently (AUTO_RESUME).
_RUN_SECTIONS = ('MODEL', 'LOSS', 'TRAIN', 'DATASET')
_RUN_TOP_KEYS = ('SEED',)
# Paths, speed switches and evaluation-only settings that do not change the trained weights.
_NOT_RUN_KEYS = {
    'MODEL.PRETRAINED', 'MODEL.INIT_WEIGHTS', 'MODEL.CHANNELS_LAST', 'MODEL.SHARED_TRUNK',
    'TRAIN.INIT_CHECKPOINT', 'TRAIN.RESUME', 'TRAIN.CHECKPOINT', 'TRAIN.MAX_STEPS',
    'TRAIN.BEGIN_EPOCH', 'DATASET.ROOT', 'DATASET.TRAIN_IMAGE_DIR', 'DATASET.TEST_IMAGE_DIR',
    'DATASET.TEST_DATASET', 'DATASET.TEST_SET', 'DATASET.TEST_ANNOTATION_FILE',
    'DATASET.SKIP_BROKEN_IMAGES', 'DATASET.IMAGE_CACHE',
}
# Checkpoints written before these keys were deprecated store them; they change nothing.
_NOT_RUN_KEYS |= set(DEPRECATED_KEYS)


def _flat(node, prefix=''):
    out = {}
    for key, value in node.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flat(value, name + '.'))
        else:
            out[name] = value
    return out


def _run_keys(flat):
    return {k: v for k, v in flat.items()
            if (k.split('.', 1)[0] in _RUN_SECTIONS or k in _RUN_TOP_KEYS)
            and k not in _NOT_RUN_KEYS}


def run_differences(stored_dump, cfg):
    """Keys that change a training run and differ between a checkpoint's stored config and
    ``cfg``.

    Args:
        stored_dump: the YAML text of ``cfg.dump()`` saved in a checkpoint.
        cfg: the current config.

    Returns:
        sorted list of ``(key, stored value, current value)``. A key the stored config lacks
        (added later) counts with its default value; one the current config lacks, as None.

    Raises:
        ConfigError: ``stored_dump`` is not a YAML mapping.
    """
    try:
        stored = yaml.safe_load(stored_dump)
    except yaml.YAMLError as exc:
        raise ConfigError(f'the stored config is not valid YAML: {exc}') from None
    if not isinstance(stored, dict):
        raise ConfigError('the stored config is not a mapping of keys')
    # A key added to the defaults after the checkpoint was written had its default value.
    defaults = _run_keys(_flat(yaml.safe_load(default_config().dump())))
    old = {**defaults, **_run_keys(_flat(stored))}
    new = _run_keys(_flat(yaml.safe_load(cfg.dump())))
    return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]
