"""Training debug images (HRNet's ``save_debug_images``, multi-instance) from the training
loop's tensors: normalised crops, target and predicted heatmaps."""
import os

import cv2
import numpy as np

from mipnet.data import IMAGENET_MEAN, IMAGENET_STD
from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation.decode import get_max_preds
from mipnet.vis.draw import heatmap_grid, joint_grid

__all__ = ['denormalize_images', 'skeleton_for', 'save_debug_images']


def _to_numpy(x):
    if hasattr(x, 'detach'):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)


def denormalize_images(images, color_rgb=True):
    """Undo the dataset normalisation.

    Args:
        images: tensor or array (B, 3, H, W), ImageNet-normalised per channel index as in
            :class:`mipnet.data.COCOStyleDataset`.
        color_rgb: channel order of ``images`` is RGB (``DATASET.COLOR_RGB``), else BGR.

    Returns:
        uint8 BGR (B, H, W, 3).
    """
    arr = _to_numpy(images).astype(np.float32)
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f'images must be (B, 3, H, W), got shape {arr.shape}')
    arr = arr.transpose(0, 2, 3, 1) * IMAGENET_STD + IMAGENET_MEAN
    arr = np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)
    if color_rgb:
        arr = arr[..., ::-1]
    return np.ascontiguousarray(arr)


def skeleton_for(cfg, is_train=True):
    """Skeleton of the config's dataset (train or test), or None when the joint count of
    ``MODEL.NUM_JOINTS`` does not match it or the name is unknown."""
    name = cfg.DATASET.TRAIN_DATASET if is_train else cfg.DATASET.TEST_DATASET
    try:
        meta = get_keypoint_meta(name or cfg.DATASET.DATASET)
    except ValueError:
        return None
    return meta.skeleton if meta.num_joints == int(cfg.MODEL.NUM_JOINTS) else None


def _imwrite(path, img):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError(f'could not write image {path}')


def save_debug_images(cfg, images, meta, target, output, prefix):
    """Training debug images (HRNet's ``save_debug_images``, multi-instance).

    Writes, according to ``cfg.DEBUG.SAVE_BATCH_IMAGES_GT`` / ``_PRED`` and
    ``SAVE_HEATMAPS_GT`` / ``_PRED``:

    * ``<prefix>_gt.jpg``: crops with the target joints of every instance;
    * ``<prefix>_pred.jpg``: crops with the argmax joints of every predicted instance;
    * ``<prefix>_hm_gt.jpg`` / ``<prefix>_hm_pred.jpg``: heatmap grids (one row per crop
      and instance).

    Parent folders are created.

    Args:
        cfg: the config (``DATASET.COLOR_RGB``, ``MODEL.IMAGE_SIZE``, ``DEBUG.*``).
        images: normalised input batch, tensor (B, 3, H, W).
        meta: batch meta dict with 'joints' (B, N, J, 3) crop coordinates and
            'joints_vis' (B, N, J, 3) (tensors or arrays); an optional 'instance_valid'
            (B, N) hides the target slots that merely repeat instance 0.
        target: target heatmaps (B, N, J, h, w).
        output: predicted heatmaps (B, K, J, h, w); K may be 1 (plain HRNet).
        prefix: output path prefix.

    Returns:
        list of the paths written.
    """
    dbg = cfg.DEBUG
    crops = denormalize_images(images, bool(cfg.DATASET.COLOR_RGB))
    skeleton = skeleton_for(cfg, is_train=True)
    written = []
    if dbg.SAVE_BATCH_IMAGES_GT:
        path = f'{prefix}_gt.jpg'
        valid = meta.get('instance_valid') if hasattr(meta, 'get') else None
        _imwrite(path, joint_grid(crops, _to_numpy(meta['joints']),
                                  _to_numpy(meta['joints_vis']), skeleton,
                                  instance_valid=None if valid is None else _to_numpy(valid)))
        written.append(path)
    if dbg.SAVE_BATCH_IMAGES_PRED:
        hm = _to_numpy(output).astype(np.float32)
        b, k, j, h, w = hm.shape
        coords, maxvals = get_max_preds(hm.reshape(b * k, j, h, w))
        stride = np.array([crops.shape[2] / w, crops.shape[1] / h])
        joints = (coords * stride).reshape(b, k, j, 2)
        vis = (maxvals > 0).astype(np.float64).reshape(b, k, j)
        path = f'{prefix}_pred.jpg'
        _imwrite(path, joint_grid(crops, joints, vis, skeleton))
        written.append(path)
    if dbg.SAVE_HEATMAPS_GT:
        path = f'{prefix}_hm_gt.jpg'
        _imwrite(path, heatmap_grid(crops, _to_numpy(target)))
        written.append(path)
    if dbg.SAVE_HEATMAPS_PRED:
        path = f'{prefix}_hm_pred.jpg'
        _imwrite(path, heatmap_grid(crops, _to_numpy(output)))
        written.append(path)
    return written
