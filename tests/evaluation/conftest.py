"""Fixtures of the evaluation tests: the real annotation samples in tests/fixtures."""
import gzip
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / 'fixtures'


@pytest.fixture(scope='session')
def coco_gt_file():
    return FIXTURES / 'coco' / 'test_coco.json'


@pytest.fixture(scope='session')
def crowdpose_gt_file():
    return FIXTURES / 'crowdpose' / 'test_crowdpose.json'


@pytest.fixture(scope='session')
def ochuman_gt_file():
    return FIXTURES / 'ochuman' / 'test_ochuman.json'


@pytest.fixture(scope='session')
def crowdpose_val():
    """The full official CrowdPose val annotations as a dict (loaded once)."""
    path = FIXTURES / 'crowdpose' / 'crowdpose_val.json.gz'
    with gzip.open(path, 'rt') as f:
        return json.load(f)
