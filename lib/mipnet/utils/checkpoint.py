"""Checkpoint I/O in one place: safe loading (``weights_only=True``), atomic saving,
state_dict extraction from the official and this project's layouts, and clear mismatch errors.
"""
import hashlib
import logging
import os
import pickle
import tempfile

import torch

logger = logging.getLogger(__name__)

STATE_DICT_KEYS = ('state_dict', 'best_state_dict', 'latest_state_dict', 'model')


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, unsafe, or does not match the model."""


def file_sha256(path):
    """Hex SHA-256 of the file at ``path`` (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path):
    """Check ``path`` against ``<path>.sha256`` (``sha256sum`` format) when that file exists.

    Shipped checkpoints (checkpoints/demo_mipnet.pth) carry one, so that a damaged copy or
    an unfetched Git LFS pointer fails with one clear message instead of odd weights.

    Returns:
        True if a digest file was found and matched, False if there is none.
    Raises:
        CheckpointError: the digest file is malformed or the file does not match it.
    """
    digest_file = f'{path}.sha256'
    if not os.path.isfile(digest_file):
        return False
    with open(digest_file) as f:
        expected = (f.read().split() or [''])[0].lower()
    if len(expected) != 64 or any(c not in '0123456789abcdef' for c in expected):
        raise CheckpointError(f'{digest_file} does not start with a SHA-256 hex digest')
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(
            f'checkpoint {path} does not match its digest in {digest_file} (sha256 {actual}, '
            f'expected {expected}): the file is damaged or was replaced. Restore it, e.g. '
            f'`git checkout -- {path}`.')
    return True


def load_file(path, map_location='cpu'):
    """``torch.load`` with ``weights_only=True``; every failure becomes a CheckpointError.

    Files that need arbitrary unpickling (possibly malicious) are refused, never executed.
    A file with a ``<path>.sha256`` beside it must match that digest (:func:`verify_sha256`).
    """
    if not path:
        raise CheckpointError('no checkpoint path given')
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'checkpoint {path} is empty (0 bytes); it was probably cut off '
                              'while saving. Use an earlier checkpoint.')
    verify_sha256(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f'checkpoint {path} holds objects other than tensors and plain containers; refusing '
            f'to unpickle it (weights_only=True). If you trust the file, re-save its state_dict. '
            f'Detail: {str(exc).splitlines()[0]}') from None
    except Exception as exc:  # noqa: BLE001 - torch.load fails in many ways on garbage
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f'checkpoint {path} is truncated or corrupt: {detail}') from None


def extract_state_dict(obj, source='checkpoint'):
    """Model weights from a raw state_dict or a dict holding one; strips DDP ``module.``."""
    if isinstance(obj, dict):
        for key in STATE_DICT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or \
            not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f'{source} does not contain a model state_dict (expected tensors, '
                              f'or a dict with one of {", ".join(STATE_DICT_KEYS)})')
    if all(k.startswith('module.') for k in obj):
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    return obj


def load_state_dict_file(path, map_location='cpu'):
    """State dict (name -> tensor) of the checkpoint at ``path``."""
    return extract_state_dict(load_file(path, map_location), source=f'checkpoint {path}')


def _describe(keys, limit=5):
    keys = sorted(keys)
    more = f' (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def check_compatible(model, state_dict, source='checkpoint'):
    """Raise CheckpointError listing the first missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = set(own) - set(state_dict)
    unexpected = set(state_dict) - set(own)
    shapes = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}'
              for k in sorted(set(own) & set(state_dict)) if own[k].shape != state_dict[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'missing keys: {_describe(missing)}')
        if unexpected:
            parts.append(f'unexpected keys: {_describe(unexpected)}')
        if shapes:
            parts.append('shape mismatches: ' + '; '.join(shapes[:5]) +
                         (f' (+{len(shapes) - 5} more)' if len(shapes) > 5 else ''))
        raise CheckpointError(f'{source} does not match the model built from the config '
                              f'(MODEL.NAME / NUM_JOINTS / EXTRA / SE_MODULES?): ' +
                              ' | '.join(parts))


def load_model_weights(model, path, map_location='cpu'):
    """Load weights into ``model`` strictly; returns the state dict loaded."""
    state = load_state_dict_file(path, map_location)
    target = model.module if hasattr(model, 'module') else model
    check_compatible(target, state, source=f'checkpoint {path}')
    target.load_state_dict(state, strict=True)
    logger.info('=> loaded weights from %s', path)
    return state


def remove_partial_saves(folder):
    """Delete the temporary files (``.<name>.pth.<random>.tmp``) that :func:`save_atomic`
    leaves behind when its process is killed mid-write; returns their paths. Call it only
    while nothing can be saving into ``folder`` (at the start of a run)."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        if name.startswith('.') and name.endswith('.tmp') and '.pth.' in name:
            path = os.path.join(folder, name)
            try:
                os.unlink(path)
            except OSError:
                continue
            removed.append(path)
    return removed


def save_atomic(obj, path):
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one at ``path``, never a
    partial one (the partial temporary file stays; :func:`remove_partial_saves` deletes it).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
