"""Checks made before any training or evaluation work, so that a run fails in its first
second with one ``error:`` line instead of after an epoch with a traceback: output and log
folders writable, disk space for a checkpoint, one run per run folder (a lock file), and a
resumed checkpoint that fits the config (optimizer type; changed LR settings are named).
"""
import errno
import fcntl
import logging
import os
import shutil
import tempfile

import yaml

from mipnet.config import ConfigError, run_differences
from mipnet.utils.checkpoint import CheckpointError

logger = logging.getLogger(__name__)

LOCK_NAME = '.run.lock'
# Files a training run replaces in its run folder.
RUN_FILES = ('checkpoint.pth', 'model_best.pth', 'final_state.pth')


class PreflightError(RuntimeError):
    """The run cannot write where it must, lacks disk space, or its folder is in use."""


def _cause(exc):
    name = errno.errorcode.get(exc.errno, '') if exc.errno else ''
    return f'{exc.strerror or exc}' + (f' ({name})' if name else '')


def check_writable_dir(path, what):
    """Create ``path`` if needed and write (then delete) a probe file in it.

    Raises:
        PreflightError: naming ``what``, the path and the cause (not a folder, permission
            denied, read-only file system, ...).
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise PreflightError(f'{what} {path} is a file, not a folder; remove it or choose '
                             'another path')
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write-probe.', dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise PreflightError(f'cannot write to {what} {path}: {_cause(exc)}; fix its '
                             'permissions or choose another path') from None


def check_replaceable(folder, names=RUN_FILES):
    """Existing files the run will replace must be writable (a read-only checkpoint.pth
    would otherwise fail only at the end of the next epoch, or be replaced against the
    owner's intent)."""
    for name in names:
        path = os.path.join(folder, name)
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise PreflightError(f'{path} is read-only and this run would replace it; make it '
                                 'writable (chmod u+w) or choose another OUTPUT_DIR')


def check_disk_space(folder, needed_bytes):
    """Free space in ``folder`` for one more checkpoint (written beside the old one)."""
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise PreflightError(f'not enough disk space in {folder}: a checkpoint needs about '
                             f'{needed_bytes / 2 ** 20:.1f} MiB, {free / 2 ** 20:.1f} MiB are '
                             'free; free some space or choose another OUTPUT_DIR')


def checkpoint_bytes(model, optimizer_name, momentum=0.0):
    """Estimated bytes of checkpoint.pth plus model_best.pth: the weights, the optimizer's
    per-parameter slots (Adam 2, SGD with momentum 1) and the best-model copy."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    slots = 2 if optimizer_name in ('adam', 'adamw') else (1 if momentum else 0)
    return 2 * weights + slots * params + (1 << 20)


class RunLock:
    """An exclusive ``flock`` on ``<folder>/.run.lock`` holding the owner's PID. The kernel
    releases it when the process dies (also by SIGKILL), so a crashed run never leaves a
    stale lock. File systems without flock get a warning and no lock."""

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK_NAME)
        self._fd = None

    def acquire(self):
        writable = True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            # Left by another user: a read-only descriptor still takes the flock.
            writable = False
            fd = self._open_read_only()
        except OSError as exc:
            raise PreflightError(f'cannot create the lock file {self.path}: {_cause(exc)}') \
                from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                logger.warning('cannot lock %s (%s); nothing stops a second run from writing '
                               'into this folder', self.path, _cause(exc))
                return self
            holder = os.pread(fd, 32, 0).decode(errors='replace').strip() or 'unknown'
            os.close(fd)
            raise PreflightError(f'another run (PID {holder}) is using {os.path.dirname(self.path)}'
                                 '; wait for it to finish or choose another OUTPUT_DIR') from None
        if writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
        self._fd = fd
        _HELD.add(self)
        return self

    def _open_read_only(self):
        try:
            return os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise PreflightError(f'cannot create the lock file {self.path}: {_cause(exc)}') \
                from None

    def release(self):
        if self._fd is not None:
            os.close(self._fd)      # closing drops the flock
            self._fd = None
        _HELD.discard(self)


# Locks this process holds: released by release_locks() also when the run failed while
# being set up (the Trainer that held the lock was never returned).
_HELD = set()


def release_locks():
    """Release every run-folder lock this process holds."""
    for lock in list(_HELD):
        lock.release()


def prepare_training(cfg, output_dir, log_dir):
    """Rank 0, before logging starts: writable output/log folders, no read-only run files,
    and the run folder's lock. Returns the held :class:`RunLock`."""
    check_output_root(cfg)
    check_writable_dir(output_dir, 'run folder')
    check_writable_dir(log_dir, 'LOG_DIR folder')
    lock = RunLock(output_dir).acquire()
    try:
        check_replaceable(output_dir)
    except PreflightError:
        lock.release()
        raise
    return lock


def check_output_root(cfg):
    """OUTPUT_DIR may be missing (it is created) but not a file. Only the run folder below
    it needs to be writable."""
    root = os.path.abspath(cfg.OUTPUT_DIR)
    if os.path.exists(root) and not os.path.isdir(root):
        raise PreflightError(f'OUTPUT_DIR {root} is a file, not a folder; remove it or choose '
                             'another path')


def prepare_evaluation(cfg, output_dir):
    """Before evaluation: the run folder (log, results, metrics) is writable. No lock:
    evaluating model_best.pth while its training run goes on is a normal use."""
    check_output_root(cfg)
    check_writable_dir(output_dir, 'run folder')


def _checkpoint_optimizer(state):
    """The optimizer name a training checkpoint was made with: its recorded config, else
    the layout of its optimizer state ('betas': Adam family, 'momentum': SGD)."""
    try:
        name = yaml.safe_load(state.get('config') or '')['TRAIN']['OPTIMIZER']
        return str(name).lower()
    except (yaml.YAMLError, TypeError, KeyError):
        pass
    groups = state['optimizer'].get('param_groups') or [{}]
    if 'betas' in groups[0]:
        return 'adamw' if groups[0].get('decoupled_weight_decay') else 'adam'
    if 'momentum' in groups[0]:
        return 'sgd'
    return None


def check_auto_resume(cfg, path, state):
    """AUTO_RESUME only continues a checkpoint written under the same run settings: raises
    CheckpointError, with the ways out, when the checkpoint ``state`` found at ``path``
    stores no config or one whose run keys differ from ``cfg``."""
    ways_out = ('Either start a fresh run (another OUTPUT_DIR, or move the checkpoint away, '
                'or AUTO_RESUME false, which overwrites it), or resume it on purpose with '
                f'--check_point {path}')
    if not isinstance(state.get('config'), str):
        raise CheckpointError(f'AUTO_RESUME found {path}, which stores no config, so it '
                              f'cannot be checked against this run. {ways_out}')
    try:
        diffs = run_differences(state['config'], cfg)
    except ConfigError as exc:
        raise CheckpointError(f'AUTO_RESUME found {path}: {exc}. {ways_out}') from None
    if diffs:
        listed = '; '.join(f'{k}: {old!r} in the checkpoint, {new!r} now'
                           for k, old, new in diffs[:8])
        more = f' (+{len(diffs) - 8} more)' if len(diffs) > 8 else ''
        raise CheckpointError(f'AUTO_RESUME found {path} from a run with other settings: '
                              f'{listed}{more}. {ways_out}')


def check_resume(cfg, state, path):
    """A training checkpoint being resumed must fit the config.

    Raises:
        CheckpointError: the checkpoint was made with another ``TRAIN.OPTIMIZER`` (its state
            cannot continue another optimizer).

    A changed ``TRAIN.LR`` / ``LR_STEP`` / ``LR_FACTOR`` is not an error: the resumed run
    continues the checkpoint's schedule (its LR and milestones are restored with the
    optimizer and scheduler state) and a warning names both values. To train with the new
    values, start a new run from the checkpoint's weights (``--pth_path``).
    """
    saved = _checkpoint_optimizer(state)
    if saved and saved != cfg.TRAIN.OPTIMIZER:
        raise CheckpointError(f'checkpoint {path} was trained with TRAIN.OPTIMIZER {saved}, this '
                              f'config says {cfg.TRAIN.OPTIMIZER}: its optimizer state cannot '
                              f'continue. Resume with TRAIN.OPTIMIZER {saved}, or start a new '
                              f'run from its weights with --pth_path {path}')
    sched = state.get('scheduler') or {}
    differences = []
    base_lrs = sched.get('base_lrs') or []
    if base_lrs and abs(float(base_lrs[0]) - cfg.TRAIN.LR) > 1e-12 * max(cfg.TRAIN.LR, 1e-12):
        differences.append(f'TRAIN.LR {cfg.TRAIN.LR:g} (checkpoint: {float(base_lrs[0]):g})')
    if 'milestones' in sched:
        saved_steps = sorted(int(m) for m in sched['milestones'])
        if saved_steps != sorted(int(m) for m in cfg.TRAIN.LR_STEP):
            differences.append(f'TRAIN.LR_STEP {list(cfg.TRAIN.LR_STEP)} (checkpoint: '
                               f'{saved_steps})')
    if 'gamma' in sched and abs(float(sched['gamma']) - cfg.TRAIN.LR_FACTOR) > 1e-12:
        differences.append(f'TRAIN.LR_FACTOR {cfg.TRAIN.LR_FACTOR:g} (checkpoint: '
                           f'{float(sched["gamma"]):g})')
    if differences:
        logger.warning('resuming %s with %s: the checkpoint\'s schedule continues and the '
                       'config values are NOT used; to train with them start a new run from '
                       'its weights (--pth_path)', path, '; '.join(differences))
    return differences


def inexact_resume_reasons(cfg, device_type):
    """Settings under which a resumed run does not replay the uninterrupted one bit for bit
    (empty list: exact)."""
    reasons = []
    if cfg.WORKERS > 0 and not cfg.DETERMINISTIC:
        reasons.append(f'WORKERS {cfg.WORKERS} > 0 with DETERMINISTIC false keeps persistent '
                       'data workers whose random state is not in the checkpoint')
    if device_type != 'cpu' and not cfg.DETERMINISTIC:
        reasons.append(f'DETERMINISTIC false on {device_type}: non-deterministic kernels '
                       '(and CUDNN.BENCHMARK algorithm choice)')
    return reasons
