"""The training DataLoader: worker count capped at the CPUs per process, pinning, persistence."""
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
