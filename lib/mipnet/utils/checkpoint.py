"""Checkpoint I/O in one place: safe loading (``weights_only=True``), atomic saving,
state_dict extraction from the official and this project's layouts, and clear mismatch errors.
"""
import errno
import hashlib
import logging
import os
import pickle
import tempfile
import zipfile

import torch

logger = logging.getLogger(__name__)

STATE_DICT_KEYS = ('state_dict', 'best_state_dict', 'latest_state_dict', 'model')
# Key of the model-defining settings in the checkpoints this project writes.
META_KEY = 'meta'
# Weights-only files already reported as uncheckable (one log line per file and process).
_UNCHECKED = set()


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, unsafe, or does not match the model."""


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (permissions, a full disk, ...)."""


def verify_integrity(path):
    """Check the CRC-32 that ``torch.save``'s zip format stores for every record (tensor data
    included); ``torch.load`` itself does not, so flipped bytes would load silently.

    Returns:
        True when every record was verified; False when the file has no digest to check (the
        legacy pre-zip format of old official HRNet weights, or records saved without CRC;
        an info line says so) or is not a complete zip archive (``torch.load`` reports it).

    Raises:
        CheckpointError: a record's data does not match its stored CRC-32.
    """
    if not zipfile.is_zipfile(path):
        if _is_legacy(path):    # else a zip cut short: torch.load names it truncated
            logger.info('checkpoint %s has no integrity digest (legacy format); not verified',
                        path)
        return False
    checked = False
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.CRC == 0 and info.file_size > 0:
                    continue        # saved with torch.serialization.set_crc32_options(False)
                with archive.open(info) as member:   # zipfile checks the CRC at the end
                    while member.read(1 << 24):
                        pass
                checked = True
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f'checkpoint {path} fails its integrity check ({exc}): the file '
                              'is corrupt (a disk or copy error); use another copy or an '
                              'earlier checkpoint.') from None
    if not checked:
        logger.info('checkpoint %s was saved without CRC-32 digests; not verified', path)
    return checked


def _is_legacy(path):
    """True for a file that is not a zip archive at all (pre-1.6 ``torch.save`` format), as
    opposed to a zip archive cut short."""
    with open(path, 'rb') as f:
        return f.read(2) != b'PK'
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
    Before loading, a file with a ``<path>.sha256`` beside it must match that digest
    (:func:`verify_sha256`); any other file has the CRC-32 digests of its records verified
    (:func:`verify_integrity`; files without digests, the legacy format, load with an info
    line).
    """
    if not path:
        raise CheckpointError('no checkpoint path given')
    if os.path.isdir(path):
        raise CheckpointError(f'checkpoint {path} is a folder, not a file: give the checkpoint '
                              'file in it (e.g. model_best.pth or checkpoint.pth)')
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'checkpoint {path} is empty (0 bytes); it was probably cut off '
                              'while saving. Use an earlier checkpoint.')
    verify_sha256(path) or verify_integrity(path)
    return load_weights_only(path, map_location)


def load_weights_only(path, map_location='cpu', safe_globals=(),
                      allowed='tensors and plain containers',
                      advice=' If you trust the file, re-save its state_dict.'):
    """``torch.load(path, weights_only=True)`` with ``safe_globals`` also allowed; a refused
    object or a damaged file is one CheckpointError (``allowed`` names what may be in the
    file, ``advice`` follows the refusal). No checks before the load: see :func:`load_file`.
    """
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f'checkpoint {path} holds objects other than {allowed}; refusing to unpickle it '
            f'(weights_only=True).{advice} Detail: {str(exc).splitlines()[0]}') from None
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


def with_meta(state_dict, meta):
    """The layout of the weights files this project writes: ``{'state_dict': ..., 'meta':
    meta}``, ``meta`` the model-defining settings (``mipnet.models.model_meta``)."""
    return {'state_dict': state_dict, META_KEY: dict(meta)}


def read_meta(obj):
    """The model-defining settings a loaded checkpoint records, or None (weights-only files:
    the reference's and the official HRNet/MIPNet ones)."""
    meta = obj.get(META_KEY) if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else None


def check_meta(found, expected, path, keys=None):
    """Compare the settings a checkpoint records with those of the model it is loaded into.

    Args:
        found: the checkpoint's settings (:func:`read_meta`), or None for a weights-only file,
            which cannot be checked: logged once per file.
        expected: the settings of the config (``mipnet.models.model_meta``).
        keys: compare only these keys (default: every key both record).

    Raises:
        CheckpointError: naming each differing key with both values.
    """
    if found is None:
        if path not in _UNCHECKED:
            _UNCHECKED.add(path)
            logger.info('%s is a weights-only file: its input size, heatmap sigma and λ form '
                        'cannot be checked against the config', path)
        return
    common = [k for k in expected if k in found and (keys is None or k in keys)]
    differing = [k for k in common if _plain(found[k]) != _plain(expected[k])]
    if differing:
        raise CheckpointError(
            f'checkpoint {path} was made for another model: ' +
            '; '.join(f'{k} {_plain(found[k])} (config: {_plain(expected[k])})'
                      for k in differing) +
            '. The same weights compute something else under these settings: use the config '
            'the checkpoint was trained with, or set these keys to its values')


def _plain(value):
    """Lists and tuples compared as lists (yacs keeps YAML sequences as either)."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


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


def load_model_weights(model, path, map_location='cpu', expected_meta=None):
    """Load weights into ``model`` strictly; returns the state dict loaded.

    With ``expected_meta`` the settings the checkpoint records must equal it
    (:func:`check_meta`)."""
    obj = load_file(path, map_location)
    if expected_meta is not None:
        check_meta(read_meta(obj), expected_meta, path)
    state = extract_state_dict(obj, source=f'checkpoint {path}')
    target = model.module if hasattr(model, 'module') else model
    check_compatible(target, state, source=f'checkpoint {path}')
    target.load_state_dict(state, strict=True)
    logger.info('=> loaded weights from %s', path)
    return state


def load_matching_weights(model, path, may_be_missing, map_location='cpu', expected_meta=None,
                          meta_keys=None):
    """Initialise ``model`` from the checkpoint at ``path``, leaving some tensors as they are.

    Every tensor of the checkpoint must exist in the model with the same shape, and every
    model tensor the checkpoint lacks must satisfy ``may_be_missing(name)``; anything else
    is refused with one CheckpointError naming the keys.

    Args:
        model: the module to fill (a DDP wrapper is unwrapped).
        path: checkpoint file (a state_dict, or a dict holding one under state_dict /
            best_state_dict / latest_state_dict / model, ``module.`` prefixes allowed).
        may_be_missing: predicate on a model key name.
        expected_meta, meta_keys: with ``expected_meta``, the ``meta_keys`` settings the
            checkpoint records must equal it (:func:`check_meta`).

    Returns:
        sorted list of the model keys left at their current (initial) values.
    """
    obj = load_file(path, map_location)
    if expected_meta is not None:
        check_meta(read_meta(obj), expected_meta, path, meta_keys)
    state = extract_state_dict(obj, source=f'checkpoint {path}')
    target = model.module if hasattr(model, 'module') else model
    own = target.state_dict()
    unexpected = set(state) - set(own)
    shapes = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
              for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    missing = sorted(set(own) - set(state))
    not_allowed = [k for k in missing if not may_be_missing(k)]
    if unexpected or shapes or not_allowed:
        parts = []
        if unexpected:
            parts.append(f'unknown keys: {_describe(unexpected)}')
        if shapes:
            parts.append('shape mismatches: ' + '; '.join(shapes[:5]) +
                         (f' (+{len(shapes) - 5} more)' if len(shapes) > 5 else ''))
        if not_allowed:
            parts.append(f'missing keys: {_describe(not_allowed)}')
        raise CheckpointError(f'cannot initialise the model from {path}: ' + ' | '.join(parts) +
                              '. Use a checkpoint of the same network (MODEL.EXTRA widths, '
                              'MODEL.NUM_JOINTS) as the config')
    target.load_state_dict(state, strict=False)
    return missing


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

    Raises:
        CheckpointWriteError: naming ``path`` and the cause (permission, full disk, ...);
            the old file at ``path`` is left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                                   dir=folder)
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except Exception as exc:
        raise CheckpointWriteError(f'cannot write checkpoint {path}: {write_failure(exc)}') \
            from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_failure(exc):
    """The cause of a failed write in words: the OSError in ``exc``'s chain (torch's
    serializer wraps ENOSPC in a RuntimeError), e.g. 'No space left on device (ENOSPC)'."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            name = errno.errorcode.get(seen.errno, str(seen.errno))
            return f'{seen.strerror or os.strerror(seen.errno)} ({name})'
        seen = seen.__cause__ or seen.__context__
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def state_dict_digest(state_dict):
    """SHA-256 (hex) of a state dict's names, dtypes, shapes and values, independent of the
    device and of the file the tensors were read from."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        h.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
                 if tensor.numel() else b'')
    return h.hexdigest()


def reconcile_best(state, best_path):
    """Make ``best_path`` (model_best.pth) agree with a training checkpoint being resumed.

    The trainer writes the checkpoint first, recording the best model's epoch
    (``best_epoch``) and :func:`state_dict_digest` (``best_digest``), then model_best.pth. A
    kill between the two leaves an older model_best.pth; its weights are those of the
    checkpoint itself (the best epoch is the checkpoint's), so it is rewritten from them.
    Checkpoints without these keys (older runs, reference checkpoints) are left alone.

    Returns:
        'ok', 'restored', 'lost' (the file differs from the recorded best and the checkpoint
        does not hold those weights: it was replaced or damaged) or None (nothing recorded).
    """
    best_epoch, digest = state.get('best_epoch'), state.get('best_digest')
    if not best_epoch or not digest:
        return None
    if os.path.isfile(best_path):
        try:
            if state_dict_digest(load_state_dict_file(best_path)) == digest:
                return 'ok'
        except CheckpointError:
            pass
    if int(best_epoch) == int(state['epoch']) and \
            state_dict_digest(state['state_dict']) == digest:
        meta = read_meta(state)
        save_atomic(state['state_dict'] if meta is None else with_meta(state['state_dict'], meta),
                    best_path)
        return 'restored'
    return 'lost'
