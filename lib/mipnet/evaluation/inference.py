"""Multi-instance inference: heatmaps for every instance of every box (and the flipped box),
decoded to image-space keypoints. Shared by evaluation, training and the demo (through
:func:`predictor_from_cfg`, which runs the network through the fast paths of
:func:`inference_model`).
"""
import copy
import logging

import numpy as np
import torch
from torch import nn

from mipnet.data.loader import eval_batch_size
from mipnet.evaluation.decode import get_final_preds
from mipnet.utils.compile import CompiledModule

logger = logging.getLogger(__name__)

__all__ = ['unwrap', 'autocast_dtype', 'instance_heatmaps', 'MultiInstancePredictor',
           'predictor_from_cfg', 'inference_model']


def unwrap(model):
    """The bare network behind DistributedDataParallel and compile wrappers (``.module``)."""
    while hasattr(model, 'module'):
        model = model.module
    return model


def autocast_dtype(device_type):
    """float16 on accelerators (with a GradScaler in training), bfloat16 on CPU."""
    return torch.bfloat16 if device_type == 'cpu' else torch.float16


def instance_heatmaps(model, images, instances, shared_trunk=True):
    """Heatmaps of ``instances`` for each image, through the model's one multi-instance
    forward (``forward_instances``; called as ``model(images, instances=...)`` so that a
    DDP wrapper sees it).

    Args:
        model: a pose network (possibly DDP-wrapped).
        images: (B, 3, H, W).
        instances: K instance indices.
        shared_trunk: run the λ-independent trunk once (True) or the whole network once per
            instance on a duplicated batch, the reference way (False).

    Returns:
        (B, K, J, h, w) in the model's output dtype.
    """
    return model(images, instances=list(instances), shared_trunk=shared_trunk)


class MultiInstancePredictor:
    """Heatmaps and keypoints of K instances per box, with optional flip test.

    Args:
        model: pose network in eval mode.
        instances: instance indices to run (pose_hrnet: [0]).
        flip_index: (J,) left/right permutation for the flip test, or None for no flip.
        shift_heatmap: shift flipped-back heatmaps one pixel right (HRNet SHIFT_HEATMAP).
        shared_trunk: see :func:`instance_heatmaps`.
        post_process: 'quarter', 'dark' or None (see ``get_final_preds``).
        amp: run under autocast (decoding always in float32).
        channels_last: give the model its input in channels_last memory format (for a
            model converted with ``.to(memory_format=torch.channels_last)``).
        pad_batch: a smaller batch is padded with zero images to this many boxes before the
            model and the padding dropped after it (eval BatchNorm makes every box
            independent): a compiled model then sees one shape and compiles once.
    """

    def __init__(self, model, instances, flip_index=None, shift_heatmap=False,
                 shared_trunk=True, post_process='quarter', amp=False, channels_last=False,
                 pad_batch=None):
        self.model = model
        self.instances = list(instances)
        self.flip_index = None if flip_index is None else torch.as_tensor(np.asarray(flip_index))
        self.shift_heatmap = shift_heatmap
        self.shared_trunk = shared_trunk
        self.post_process = post_process
        self.amp = amp
        self.channels_last = channels_last
        self.pad_batch = pad_batch

    @torch.no_grad()
    def heatmaps(self, images):
        """images (B, 3, H, W) on the model's device -> float32 (B, K, J, h, w)."""
        b = images.shape[0]
        if self.pad_batch and b < self.pad_batch:
            images = torch.cat([images, images.new_zeros(self.pad_batch - b,
                                                         *images.shape[1:])])
        batch = images if self.flip_index is None else torch.cat([images, images.flip(3)])
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, dtype=autocast_dtype(images.device.type),
                            enabled=self.amp):
            out = instance_heatmaps(self.model, batch, self.instances, self.shared_trunk)
        out = out.float()
        if self.flip_index is None:
            return out[:b]
        # Undo the flip of the second half: mirror the width and swap left/right joints.
        padded = images.shape[0]
        flipped = out[padded:padded + b].flip(-1)[:, :, self.flip_index.to(out.device)]
        if self.shift_heatmap:
            flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=-1)
        return (out[:b] + flipped) * 0.5

    def keypoints(self, heatmaps, centers, scales):
        """Decode (B, K, J, h, w) heatmaps to image coordinates.

        Args:
            centers, scales: NumPy (B, 2) box centers and scales (units of 200 px).

        Returns:
            NumPy float32 (B, K, J, 3): x, y, confidence.
        """
        b, k, j, h, w = heatmaps.shape
        flat = heatmaps.reshape(b * k, j, h, w).cpu().numpy()
        preds, maxvals = get_final_preds(flat, np.repeat(centers, k, axis=0),
                                         np.repeat(scales, k, axis=0), self.post_process)
        return np.concatenate([preds, maxvals], axis=-1).reshape(b, k, j, 3).astype(np.float32)

    def __call__(self, images, centers, scales):
        return self.keypoints(self.heatmaps(images), centers, scales)


def _channels_last(cfg, device_type):
    return bool(cfg.TEST.CHANNELS_LAST if device_type == 'cpu' else cfg.MODEL.CHANNELS_LAST)


def inference_model(cfg, model):
    """The network inference runs for ``model``, by the fast-path keys of ``TEST``.

    * ``TEST.FUSE_BN``: a copy with BatchNorm folded into the layer before it
      (:func:`mipnet.models.fusion.fuse_bn`);
    * channels_last memory format (``TEST.CHANNELS_LAST`` on the CPU,
      ``MODEL.CHANNELS_LAST`` on accelerators), on a copy;
    * ``TEST.COMPILE``: that network through ``torch.compile`` (inductor, weights frozen;
      eager, with one warning, when compiling fails), see
      :class:`mipnet.utils.compile.CompiledModule`.

    ``model`` itself (weights, mode, state_dict names) is never changed; with no fast path
    it is returned as it is. A network that is not an ``nn.Module`` (the ONNX Runtime
    backend) is returned as it is.

    Returns:
        (network in eval mode, whether it takes channels_last input).
    """
    if not isinstance(model, nn.Module):
        return model, False
    net = unwrap(model)
    device_type = next(net.parameters()).device.type
    fuse, channels_last = bool(cfg.TEST.FUSE_BN), _channels_last(cfg, device_type)
    if not (fuse or channels_last or cfg.TEST.COMPILE):
        return model, False
    from mipnet.models.fusion import fuse_bn
    run = fuse_bn(net) if fuse else copy.deepcopy(net).eval()
    if channels_last:
        run = run.to(memory_format=torch.channels_last)
    if cfg.TEST.COMPILE:
        # Static shapes: the predictor pads every batch to one size (pad_batch), and
        # inductor's dynamic-shape lowering of this network fails on some shapes.
        run = CompiledModule(run, 'inference model', freeze=True, dynamic=False).eval()
    logger.info('inference: %s', ', '.join(name for name, on in (
        ('BatchNorm folded', fuse), ('channels_last', channels_last),
        ('torch.compile', cfg.TEST.COMPILE)) if on))
    return run, channels_last


def predictor_from_cfg(cfg, model, flip_index):
    """A :class:`MultiInstancePredictor` configured by ``TEST.*`` and ``MODEL.*``, running
    :func:`inference_model` of ``model``."""
    run, channels_last = inference_model(cfg, model)
    net = unwrap(run)
    instances = range(net.num_instances) if net.uses_lambda else [0]
    return MultiInstancePredictor(
        run, instances,
        flip_index=flip_index if cfg.TEST.FLIP_TEST else None,
        shift_heatmap=cfg.TEST.SHIFT_HEATMAP,
        shared_trunk=cfg.MODEL.SHARED_TRUNK,
        post_process=cfg.TEST.POST_PROCESS_TYPE if cfg.TEST.POST_PROCESS else None,
        amp=cfg.TRAIN.AMP, channels_last=channels_last,
        pad_batch=eval_batch_size(cfg, next(run.parameters()).device)
        if isinstance(run, CompiledModule) else None)
