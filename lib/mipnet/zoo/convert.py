"""mmpose HRNet checkpoints -> this port's HRNet state-dict keys.

mmpose's top-down HRNet (``mmpose/models/backbones/hrnet.py``) names its modules as the
official HRNet does: its norm layers come from mmcv's ``build_norm_layer``, which names a
BatchNorm ``bn<postfix>`` (``bn1``, ``bn2``, ...), and its blocks, transitions, branches and
fuse layers are ``nn.Sequential`` / ``nn.ModuleList`` in the same order. Only the
prefixes differ:

* mmpose 1.x (``TopdownPoseEstimator``): ``backbone.<hrnet key>`` and the heatmap head's 1x1
  convolution ``head.final_layer.{weight,bias}``; the file is ``{'meta', 'state_dict'}``.
* mmpose 0.x (``TopDown``): ``backbone.<hrnet key>`` and
  ``keypoint_head.final_layer.{weight,bias}``.

This port's ``pose_hrnet`` has the backbone keys without the prefix and ``final_layer.*``.
Heads with deconvolution or extra convolution layers (``final_layer.<n>.*``,
``deconv_layers.*``) are not HRNet's and are refused.
"""
import logging

import numpy as np

from mipnet.utils.checkpoint import (CheckpointError, extract_state_dict, load_weights_only,
                                     save_atomic)

logger = logging.getLogger(__name__)

__all__ = ['detect_layout', 'convert_mmpose_state_dict', 'load_mmpose_file', 'convert_file']

_HEADS = {'mmpose-1.x': 'head.', 'mmpose-0.x': 'keypoint_head.'}
# Non-persistent in mmpose, but dropped in case a file carries them: not network weights.
_IGNORED = ('data_preprocessor.',)


def detect_layout(state):
    """'mmpose-1.x', 'mmpose-0.x' or 'hrnet' (anything else) of a state dict's keys."""
    keys = list(state)
    if any(k.startswith('backbone.') for k in keys):
        for layout, head in _HEADS.items():
            if any(k.startswith(head) for k in keys):
                return layout
    return 'hrnet'


def convert_mmpose_state_dict(state, layout=None, source='checkpoint'):
    """This port's ``pose_hrnet`` state dict from an mmpose one.

    Args:
        state: name -> tensor, mmpose keys (``backbone.*`` and the head's
            ``final_layer.*``).
        layout: 'mmpose-1.x' or 'mmpose-0.x'; None detects it from the keys.
        source: what the error messages call the state dict.

    Returns:
        dict name -> tensor with the port's keys (the same tensor objects).

    Raises:
        CheckpointError: not an mmpose HRNet layout, or a head other than one convolution.
    """
    layout = layout or detect_layout(state)
    if layout not in _HEADS:
        raise CheckpointError(f'{source} is not an mmpose checkpoint (no backbone.* with '
                              'head.* or keypoint_head.* keys)')
    head = _HEADS[layout] + 'final_layer.'
    out, unknown = {}, []
    for key, value in state.items():
        if key.startswith('backbone.'):
            out[key[len('backbone.'):]] = value
        elif key.startswith(head) and key[len(head):] in ('weight', 'bias'):
            out['final_layer.' + key[len(head):]] = value
        elif not key.startswith(_IGNORED):
            unknown.append(key)
    if unknown:
        shown = ', '.join(sorted(unknown)[:5]) + (f' (+{len(unknown) - 5} more)'
                                                  if len(unknown) > 5 else '')
        raise CheckpointError(f'{source} ({layout}) has keys outside an HRNet backbone and a '
                              f'one-convolution heatmap head, which this port has no place '
                              f'for: {shown}')
    if 'final_layer.weight' not in out:
        raise CheckpointError(f'{source} ({layout}) has no {head}weight (the heatmap head)')
    return out


def _numpy_globals():
    """The numpy functions and classes a checkpoint's ``meta`` needs to unpickle its arrays
    (mmengine stores the dataset's metainfo, with numpy arrays, there), under the module
    names numpy 1.x and 2.x write into pickles. Arrays and scalars only: an object array's
    items still pass through the restricted unpickler."""
    core = getattr(np, '_core', None) or np.core
    found = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        found += [(core.multiarray._reconstruct, f'{module}._reconstruct'),
                  (core.multiarray.scalar, f'{module}.scalar')]
    found += [np.ndarray, np.dtype]
    found += [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int8,
                                          np.int16, np.int32, np.int64, np.uint8, np.bool_)]
    return found


def load_mmpose_file(path):
    """The raw object of an mmpose checkpoint file, loaded with ``weights_only=True``.

    mmpose publishes its checkpoints in the legacy (pre-zip) format, with a ``meta`` that
    may hold numpy arrays; numpy's array reconstruction is allowed for that, nothing else.

    Raises:
        CheckpointError: unreadable, or objects other than tensors, containers and numpy
            arrays.
    """
    return load_weights_only(path, 'cpu', _numpy_globals(),
                             allowed='tensors, containers and numpy arrays', advice='')


def convert_file(src, dst, layout=None):
    """Write the port-layout weights of the mmpose checkpoint ``src`` to ``dst`` (atomically,
    a plain state dict in ``torch.save``'s zip format).

    Returns:
        (layout converted from, number of tensors).
    """
    state = extract_state_dict(load_mmpose_file(src), source=f'checkpoint {src}')
    layout = layout or detect_layout(state)
    converted = convert_mmpose_state_dict(state, layout, source=f'checkpoint {src}')
    save_atomic(converted, dst)
    logger.info('converted %s (%s, %d tensors) to %s', src, layout, len(converted), dst)
    return layout, len(converted)
