"""A small synthetic crowded dataset shared by the engine tests (generated once per session)."""
import pytest

from mipnet.data.synthetic import generate_dataset
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    generate_dataset(str(root), num_train=24, num_val=8, seed=3, image_size=(128, 128))
    return root


def tiny_opts(root, out, *extra):
    """Overrides that run the tiny MIPNet config on ``root`` and write under ``out``."""
    return ['DATASET.ROOT', str(root), 'OUTPUT_DIR', str(out / 'output'),
            'LOG_DIR', str(out / 'log'), 'TRAIN.BATCH_SIZE_PER_GPU', '8',
            'TEST.BATCH_SIZE_PER_GPU', '8', 'PRINT_FREQ', '2', *extra]
