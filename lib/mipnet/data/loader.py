"""The DataLoader of training and evaluation: distributed sampling, worker count capped at
the CPUs per process, pinning and worker seeding for exact resume."""
import logging
import os
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from mipnet.utils import dist

__all__ = ['build_loader', 'eval_batch_size', 'loader_workers']

logger = logging.getLogger(__name__)


def _worker_init(worker_id):
    seed = torch.initial_seed() % 2 ** 32
    np.random.seed(seed)
    random.seed(seed)


def loader_workers(requested):
    """``WORKERS`` capped at this process's share of the CPUs it may run on (the reference
    configs ask 24 per device; on an 8-device node with fewer than 192 cores more workers
    only compete for the cores, now that targets are made on the device)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    share = max(1, (cpus or 1) // max(1, int(os.environ.get('LOCAL_WORLD_SIZE', 1))))
    workers = min(int(requested), share)
    if workers < requested:
        logger.info('WORKERS %d capped at %d: the CPUs available per process', requested,
                    workers)
    return workers


def eval_batch_size(cfg, device):
    """Boxes per evaluation / inference batch on ``device``: ``TEST.BATCH_SIZE_PER_GPU``, at
    most ``TEST.CPU_BATCH_SIZE`` (when > 0) on the CPU, where a GPU-sized batch runs slower
    per box (W32 with flip: 1.72x faster at 8 boxes than at 128, the same heatmaps;
    docs/benchmarks.md)."""
    batch = int(cfg.TEST.BATCH_SIZE_PER_GPU)
    if torch.device(device).type == 'cpu' and cfg.TEST.CPU_BATCH_SIZE > 0:
        batch = min(batch, int(cfg.TEST.CPU_BATCH_SIZE))
    return batch


def build_loader(cfg, dataset, is_train, device):
    """DataLoader with a DistributedSampler (a single replica outside torchrun), so sample
    order is a function of (SEED, epoch) only; pinned batches on accelerators (copied
    without blocking), at most :func:`loader_workers` workers."""
    sampler = DistributedSampler(dataset, num_replicas=dist.get_world_size(),
                                 rank=dist.get_rank(),
                                 shuffle=is_train and cfg.TRAIN.SHUFFLE,
                                 seed=cfg.SEED, drop_last=False)
    batch = cfg.TRAIN.BATCH_SIZE_PER_GPU if is_train else eval_batch_size(cfg, device)
    if not is_train and batch < cfg.TEST.BATCH_SIZE_PER_GPU and dist.is_main_process():
        logger.info('evaluation batch: %d boxes on the CPU (TEST.CPU_BATCH_SIZE; '
                    'TEST.BATCH_SIZE_PER_GPU %d is a GPU batch)', batch,
                    cfg.TEST.BATCH_SIZE_PER_GPU)
    workers = loader_workers(cfg.WORKERS)
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                      pin_memory=cfg.PIN_MEMORY and device.type != 'cpu',
                      drop_last=is_train and len(dataset) >= batch * dist.get_world_size(),
                      # Fresh workers each epoch take their seeds from the re-seeded generator;
                      # persistent ones would carry RNG state across epochs and break exact
                      # resume, so DETERMINISTIC runs trade the worker start-up for it.
                      persistent_workers=workers > 0 and not cfg.DETERMINISTIC,
                      worker_init_fn=_worker_init,
                      generator=torch.Generator())
