"""Configuration: yacs defaults, YAML loading, ``KEY VALUE`` overrides and validation.

Public API: :func:`get_cfg`, :func:`load_config`, :class:`ConfigError`.
"""
import ast
import logging
import math
import os
from typing import NamedTuple, Optional

import yaml
from yacs.config import CfgNode

from mipnet.config.defaults import DEPRECATED_KEYS, default_config

__all__ = ['ConfigError', 'get_cfg', 'load_config', 'run_output_dir', 'log_root',
           'run_log_dir', 'run_differences']

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
    'crowdpose_lambda': 'crowdpose',
}
# Reference datasets with targets of their own (scripts/train/lambda_general): refused.
UNSUPPORTED_DATASETS = {
    'coco_lambda_012': 3,
    'coco_lambda_0123': 4,
}


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the file or key."""


class _Range(NamedTuple):
    """Allowed values of a numeric key: ``low``/``high`` bounds (None: unbounded), each
    inclusive or not."""
    low: Optional[float] = None
    high: Optional[float] = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __contains__(self, value):
        if self.low is not None and not (value >= self.low if self.low_inclusive
                                         else value > self.low):
            return False
        return self.high is None or (value <= self.high if self.high_inclusive
                                     else value < self.high)

    def __str__(self):
        if self.low is not None and self.high is not None:
            return (f'in {"[" if self.low_inclusive else "("}{self.low:g}, {self.high:g}'
                    f'{"]" if self.high_inclusive else ")"}')
        if self.low is not None:
            return f'{">=" if self.low_inclusive else ">"} {self.low:g}'
        return f'{"<=" if self.high_inclusive else "<"} {self.high:g}'


_FRACTION = _Range(0, 1)
_POSITIVE = _Range(0, low_inclusive=False)
_NON_NEGATIVE = _Range(0)
# Every float key (and the integer keys a wrong value of breaks a run) with its range. NaN
# and infinities are refused everywhere: a NaN threshold compares False with everything and
# silently changes what is kept (a wrong AP with exit status 0).
_RANGES = {
    'PRINT_FREQ': _Range(1),
    'DIST_TIMEOUT': _POSITIVE,
    'MODEL.SIGMA': _POSITIVE,
    'LOSS.TOPK': _Range(1),
    'LOSS.INSTANCE_WEIGHTS': _NON_NEGATIVE,
    'DATASET.SCALE_FACTOR': _Range(0, 1, high_inclusive=False),
    'DATASET.ROT_FACTOR': _Range(0, 180),
    'DATASET.PROB_HALF_BODY': _FRACTION,
    'DATASET.NUM_JOINTS_HALF_BODY': _NON_NEGATIVE,
    'TRAIN.LR': _POSITIVE,
    'TRAIN.LR_FACTOR': _POSITIVE,
    'TRAIN.MOMENTUM': _FRACTION,
    'TRAIN.WD': _NON_NEGATIVE,
    'TRAIN.MAX_STEPS': _NON_NEGATIVE,
    'TRAIN.CLIP_GRAD_NORM': _NON_NEGATIVE,
    'TEST.IMAGE_THRE': _FRACTION,
    'TEST.OKS_THRE': _FRACTION,
    'TEST.IN_VIS_THRE': _FRACTION,
    'TEST.DECAY_THRE': _FRACTION,
}
# Free-form sections whose numbers nothing here interprets as a whole.
_UNCHECKED = ('MODEL.EXTRA',)


def _numbers(value):
    """The numbers of a config value: itself, or the items of a list; [] for others."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _check_numbers(cfg):
    """Every number of the config is finite, and in its range where :data:`_RANGES` has
    one."""
    for key, value in _flat(cfg).items():
        if key.startswith(_UNCHECKED):
            continue
        allowed = _RANGES.get(key)
        for number in _numbers(value):
            if not math.isfinite(number) or (allowed is not None and number not in allowed):
                many = isinstance(value, (list, tuple))
                want = ('finite numbers' if many else 'a finite number') + \
                    (f' {allowed}' if allowed is not None else '')
                raise ConfigError(f'{key} = {list(value) if many else value} must be '
                                  f'{"a list of " if many else ""}{want}')


def get_cfg():
    """Return a mutable copy of the default configuration."""
    return default_config()


def _get(cfg, dotted):
    node = cfg
    for part in dotted.split('.'):
        node = node[part]
    return node


def _validate(cfg):
    _check_numbers(cfg)
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
    teacher = cfg.LOSS.TEACHER_WEIGHT
    if not 0 <= teacher < float('inf'):
        raise ConfigError(f'LOSS.TEACHER_WEIGHT = {teacher} must be a finite number >= 0')
    if teacher > 0 and cfg.MODEL.NAME == 'pose_hrnet':
        raise ConfigError('LOSS.TEACHER_WEIGHT distils a λ model\'s instance 0 towards an '
                          'HRNet trained alongside; MODEL.NAME pose_hrnet has no instances: '
                          'set it to 0')
    for key in ('TRAIN.BATCH_SIZE_PER_GPU', 'TEST.BATCH_SIZE_PER_GPU'):
        if _get(cfg, key) <= 0:
            raise ConfigError(f'{key} = {_get(cfg, key)} must be positive')
    if cfg.TEST.CPU_BATCH_SIZE < 0:
        raise ConfigError(f'TEST.CPU_BATCH_SIZE = {cfg.TEST.CPU_BATCH_SIZE} must be >= 0 '
                          '(0: TEST.BATCH_SIZE_PER_GPU on the CPU too)')
    if not 0 < cfg.TEST.SCALE_THRE < float('inf'):
        raise ConfigError(f'TEST.SCALE_THRE = {cfg.TEST.SCALE_THRE} must be a positive number '
                          '(the box enlargement; the reference uses 1.25)')
    if cfg.TRAIN.GLOBAL_BATCH_SIZE < 0:
        raise ConfigError(f'TRAIN.GLOBAL_BATCH_SIZE = {cfg.TRAIN.GLOBAL_BATCH_SIZE} must be >= 0 '
                          '(0: TRAIN.BATCH_SIZE_PER_GPU on every device)')
    if cfg.TRAIN.END_EPOCH < cfg.TRAIN.BEGIN_EPOCH:
        raise ConfigError('TRAIN.END_EPOCH must not be smaller than TRAIN.BEGIN_EPOCH')
    if cfg.WORKERS < 0:
        raise ConfigError(f'WORKERS = {cfg.WORKERS} must be >= 0')
    if cfg.SEED < 0:
        raise ConfigError(f'SEED = {cfg.SEED} must be >= 0: runs are always seeded (the '
                          'reference seeds with 0); pick another seed for another run')
    if cfg.EPOCH_EVAL_FREQ < 0:
        raise ConfigError(f'EPOCH_EVAL_FREQ = {cfg.EPOCH_EVAL_FREQ} must be >= 0 (0: validate '
                          'after the last epoch only)')


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
        if name in UNSUPPORTED_DATASETS:
            raise ConfigError(
                f'DATASET.{key} = {name!r} is the reference\'s {UNSUPPORTED_DATASETS[name]}-code '
                'λ variant (tools/lambda_general), whose targets this port does not implement; '
                f'use coco (alias coco_lambda) with MODEL.NUM_INSTANCES '
                f'{UNSUPPORTED_DATASETS[name]}: instance k is the k-th nearest person')
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
    if 'TRAIN.BATCH_SIZE_PER_GPU' in opts[0::2]:
        # An explicit per-device batch wins over the config's global batch.
        cfg.TRAIN.GLOBAL_BATCH_SIZE = 0
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


def log_root(cfg, root=None):
    """Root of the tensorboard logs: ``LOG_DIR``, or ``<OUTPUT_DIR>/log`` when it is empty
    (the default); ``root`` replaces ``OUTPUT_DIR`` as in :func:`run_output_dir`."""
    out_root = os.path.abspath(root if root is not None else cfg.OUTPUT_DIR)
    return os.path.abspath(cfg.LOG_DIR) if cfg.LOG_DIR else os.path.join(out_root, 'log')


def run_log_dir(cfg, cfg_file, root=None):
    """Tensorboard folder of a run: ``<log root>/<dataset>/<model>/<config-name>`` (see
    :func:`log_root`)."""
    out_root = os.path.abspath(root if root is not None else cfg.OUTPUT_DIR)
    return os.path.join(log_root(cfg, root), os.path.relpath(run_output_dir(cfg, cfg_file, root),
                                                             out_root))


# Keys whose value changes what a training run computes (model, training data, schedule).
# A checkpoint written under other values must not be resumed silently (AUTO_RESUME).
_RUN_SECTIONS = ('MODEL', 'LOSS', 'TRAIN', 'DATASET')
_RUN_TOP_KEYS = ('SEED',)
# Paths, speed switches and evaluation-only settings that do not change the trained weights.
_NOT_RUN_KEYS = {
    'MODEL.PRETRAINED', 'MODEL.INIT_WEIGHTS', 'MODEL.CHANNELS_LAST', 'MODEL.SHARED_TRUNK',
    'TRAIN.COMPILE',
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
    # Checkpoints of the former default SEED -1 were seeded exactly as SEED 0.
    if isinstance(old.get('SEED'), int) and old['SEED'] < 0:
        old['SEED'] = 0
    new = _run_keys(_flat(yaml.safe_load(cfg.dump())))
    return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]
