"""Fixtures of the evaluation tests: the real annotation samples in ../shared/fixtures."""
import gzip
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / 'shared' / 'fixtures'


def _need(path):
    if not path.is_file():
        pytest.skip(f'real fixture {path} not found (expected under ../shared/fixtures from '
                    f'the project root; see its README.md)')
    return path


@pytest.fixture(scope='session')
def coco_gt_file():
    return _need(FIXTURES / 'coco' / 'test_coco.json')


@pytest.fixture(scope='session')
def crowdpose_gt_file():
    return _need(FIXTURES / 'crowdpose' / 'test_crowdpose.json')


@pytest.fixture(scope='session')
def ochuman_gt_file():
    return _need(FIXTURES / 'ochuman' / 'test_ochuman.json')


@pytest.fixture(scope='session')
def crowdpose_val():
    """The full official CrowdPose val annotations as a dict (loaded once)."""
    path = _need(FIXTURES / 'crowdpose' / 'crowdpose_val.json.gz')
    with gzip.open(path, 'rt') as f:
        return json.load(f)
