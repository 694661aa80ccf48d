"""A random tiny MIPNet checkpoint shared by the API tests."""
import pytest

from tests.apis._helpers import save_tiny_random_checkpoint


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_random_checkpoint(tmp_path_factory.mktemp('api_ckpt') / 'tiny.pth')
