"""The DataLoaders: worker count capped at the CPUs per process, pinning, persistence, the
evaluation batch on the CPU."""
import os

import pytest
import torch

from mipnet.config import load_config
from mipnet.data import loader
from tests.engine.conftest import TINY, synthetic_root  # noqa: F401  (fixture)


@pytest.mark.parametrize('requested, cpus, local_world, expected', [
    (24, 8, '2', 4), (24, 64, '8', 8), (2, 8, '1', 2), (0, 8, '1', 0), (4, 3, '8', 1)])
def test_loader_workers_capped_at_cpu_share(monkeypatch, requested, cpus, local_world,
                                            expected):
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', local_world)
    assert loader.loader_workers(requested) == expected


@pytest.mark.parametrize('deterministic', [False, True])
def test_build_loader_options(monkeypatch, synthetic_root, deterministic):
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(2)), raising=False)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    cfg = load_config(TINY, ['DATASET.ROOT', str(synthetic_root), 'WORKERS', '8',
                             'DETERMINISTIC', str(deterministic)])
    from mipnet.data import build_dataset
    ds = build_dataset(cfg, True, device_targets=True)
    dl = loader.build_loader(cfg, ds, True, torch.device('cpu'))
    assert dl.num_workers == 2 and not dl.pin_memory
    # Exact resume needs fresh workers per epoch in deterministic runs.
    assert dl.persistent_workers is (not deterministic)


@pytest.mark.parametrize('opts, device, expected', [
    ([], 'cpu', 8),                                     # TEST.CPU_BATCH_SIZE caps the CPU
    ([], 'cuda', 64),                                   # accelerators keep the GPU batch
    (['TEST.CPU_BATCH_SIZE', '0'], 'cpu', 64),          # 0: the GPU batch on the CPU too
    (['TEST.BATCH_SIZE_PER_GPU', '4'], 'cpu', 4),       # a smaller batch stays
])
def test_eval_batch_size(opts, device, expected):
    cfg = load_config(TINY, ['TEST.BATCH_SIZE_PER_GPU', '64', *opts])
    assert loader.eval_batch_size(cfg, torch.device(device)) == expected


def test_evaluation_loader_uses_the_cpu_batch(synthetic_root, caplog):
    cfg = load_config(TINY, ['DATASET.ROOT', str(synthetic_root), 'TEST.BATCH_SIZE_PER_GPU',
                             '64', 'WORKERS', '0'])
    from mipnet.data import build_dataset
    ds = build_dataset(cfg, False, device_targets=True)
    with caplog.at_level('INFO', logger='mipnet.data.loader'):
        dl = loader.build_loader(cfg, ds, False, torch.device('cpu'))
        train = loader.build_loader(cfg, build_dataset(cfg, True, device_targets=True), True,
                                    torch.device('cpu'))
    assert dl.batch_size == 8 and train.batch_size == cfg.TRAIN.BATCH_SIZE_PER_GPU
    assert 'evaluation batch: 8 boxes on the CPU (TEST.CPU_BATCH_SIZE' in caplog.text
