"""Shared test fixtures: repository paths, the real fixture folder (tests/fixtures), tiny configs."""
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# The real pose fixtures (COCO / CrowdPose / OCHuman samples) are part of the repository;
# tests/fixtures/README.md lists them with their attribution.
FIXTURES = REPO / 'tests' / 'fixtures'

torch.set_num_threads(2)
# As the engine does (mipnet.utils.dist.setup_cpu_math): denormals slow CPU math 10-50x.
torch.set_flush_denormal(True)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` skip, with the reason, where no CUDA GPU is visible."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU (torch.cuda.is_available() is False); '
                                   'run benchmarks/device_check.py on a GPU machine')
    for item in items:
        if item.get_closest_marker('cuda') is not None:
            item.add_marker(skip)


@pytest.fixture
def repo():
    return REPO


@pytest.fixture
def fixtures():
    return FIXTURES


@pytest.fixture
def tiny_cfg_file():
    return str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
