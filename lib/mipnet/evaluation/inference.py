"""Multi-instance inference: heatmaps for every instance of every box (and the flipped box),
decoded to image-space keypoints. Shared by evaluation, training and the demo (through
:func:`predictor_from_cfg`).
"""
import numpy as np
import torch

from mipnet.evaluation.decode import get_final_preds

__all__ = ['unwrap', 'autocast_dtype', 'instance_heatmaps', 'MultiInstancePredictor',
           'predictor_from_cfg']


def unwrap(model):
    """The bare network behind a DistributedDataParallel wrapper."""
    return model.module if hasattr(model, 'module') else model


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
    """

    def __init__(self, model, instances, flip_index=None, shift_heatmap=False,
                 shared_trunk=True, post_process='quarter', amp=False):
        self.model = model
        self.instances = list(instances)
        self.flip_index = None if flip_index is None else torch.as_tensor(np.asarray(flip_index))
        self.shift_heatmap = shift_heatmap
        self.shared_trunk = shared_trunk
        self.post_process = post_process
        self.amp = amp

    @torch.no_grad()
    def heatmaps(self, images):
        """images (B, 3, H, W) on the model's device -> float32 (B, K, J, h, w)."""
        b = images.shape[0]
        batch = images if self.flip_index is None else torch.cat([images, images.flip(3)])
        with torch.autocast(images.device.type, dtype=autocast_dtype(images.device.type),
                            enabled=self.amp):
            out = instance_heatmaps(self.model, batch, self.instances, self.shared_trunk)
        out = out.float()
        if self.flip_index is None:
            return out
        # Undo the flip of the second half: mirror the width and swap left/right joints.
        flipped = out[b:].flip(-1)[:, :, self.flip_index.to(out.device)]
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


def predictor_from_cfg(cfg, model, flip_index):
    """A :class:`MultiInstancePredictor` configured by ``TEST.*`` and ``MODEL.*``."""
    net = unwrap(model)
    instances = range(net.num_instances) if net.uses_lambda else [0]
    return MultiInstancePredictor(
        model, instances,
        flip_index=flip_index if cfg.TEST.FLIP_TEST else None,
        shift_heatmap=cfg.TEST.SHIFT_HEATMAP,
        shared_trunk=cfg.MODEL.SHARED_TRUNK,
        post_process=cfg.TEST.POST_PROCESS_TYPE if cfg.TEST.POST_PROCESS else None,
        amp=cfg.TRAIN.AMP)
