"""Data pipeline: COCO-style keypoint datasets with multi-instance targets.

Public API:
    build_dataset(cfg, is_train, root=None) -> torch Dataset (see COCOStyleDataset for the
        item format)
    DATASETS: registry name -> dataset class (coco, crowdpose, ochuman, synthetic)
    DataError: bad dataset input (ValueError subclass)
    generate_heatmaps: Gaussian targets (mipnet.data.targets)
    BatchMaker: collated crop items -> images and targets on the training device
    build_loader(cfg, dataset, is_train, device) -> DataLoader (mipnet.data.loader)
    ImageCache, build_image_cache, ImageCacheError: the decoded-image cache
        (DATASET.IMAGE_CACHE, mipnet.data.image_cache)

Modules: records (annotation loading and validation, box records), coco (samples: crop,
augmentation, targets; the dataset classes), image_cache (decoded images in one memory-mapped
file), synthetic (the generated dataset).
"""
from mipnet.data.coco import (IMAGENET_MEAN, IMAGENET_STD, COCODataset, COCOStyleDataset,
                              CrowdPoseDataset, OCHumanDataset, SyntheticDataset)
from mipnet.data.errors import DataError
from mipnet.data.image_cache import ImageCache, ImageCacheError, build_image_cache
from mipnet.data.loader import build_loader, eval_batch_size, loader_workers
from mipnet.data.targets import BatchMaker, generate_heatmaps

__all__ = ['DATASETS', 'DataError', 'build_dataset', 'register_dataset', 'generate_heatmaps',
           'BatchMaker', 'build_loader', 'eval_batch_size', 'loader_workers', 'ImageCache',
           'ImageCacheError', 'build_image_cache',
           'COCOStyleDataset', 'COCODataset', 'CrowdPoseDataset', 'OCHumanDataset',
           'SyntheticDataset', 'IMAGENET_MEAN', 'IMAGENET_STD']

DATASETS = {cls.name: cls for cls in (COCODataset, CrowdPoseDataset, OCHumanDataset,
                                      SyntheticDataset)}


def register_dataset(cls):
    """Register a :class:`COCOStyleDataset` subclass under ``cls.name``; returns ``cls``."""
    DATASETS[cls.name] = cls
    return cls


def build_dataset(cfg, is_train, root=None, device_targets=False):
    """Build the training (``is_train``) or evaluation dataset named by
    ``DATASET.TRAIN_DATASET`` / ``DATASET.TEST_DATASET``.

    Args:
        cfg: a loaded config.
        is_train: training split with augmentation, else evaluation split (ground-truth
            boxes when ``TEST.USE_GT_BBOX``, else ``TEST.COCO_BBOX_FILE`` detections).
        root: dataset root overriding ``DATASET.ROOT`` (explicit image dir / annotation file
            settings still win).
        device_targets: items are ``(uint8 crop (H,W,3), meta)`` for a
            :class:`BatchMaker` on the training device (see COCOStyleDataset).

    Returns:
        A :class:`COCOStyleDataset` whose items are ``(image (3,H,W), target (N,J,h,w),
        target_weight (N,J,1), meta dict)``.

    Raises:
        DataError: unknown dataset name or bad input files.
    """
    name = (cfg.DATASET.TRAIN_DATASET if is_train else cfg.DATASET.TEST_DATASET) \
        or cfg.DATASET.DATASET
    name = name.lower()
    if name not in DATASETS:
        key = 'DATASET.TRAIN_DATASET' if is_train else 'DATASET.TEST_DATASET'
        raise DataError(f'{key} = {name!r} is not a registered dataset; valid: '
                        f'{", ".join(sorted(DATASETS))}')
    cls = DATASETS[name]
    image_dir, annotation_file = cls.resolve_paths(cfg, is_train, root)
    return cls(cfg, is_train, image_dir, annotation_file, device_targets=device_targets)
