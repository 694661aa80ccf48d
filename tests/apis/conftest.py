"""A random tiny MIPNet checkpoint shared by the API tests."""
import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    """Random tiny MIPNet whose heatmaps sit around 0.5 (joint confidences near 0.5, argmax
    varying with the image)."""
    torch.manual_seed(0)
    model = build_model(load_config(TINY)).eval()
    with torch.no_grad():
        model.final_layer.weight.mul_(0.5)
        model.final_layer.bias.fill_(0.5)
    path = tmp_path_factory.mktemp('api_ckpt') / 'tiny_random.pth'
    torch.save(model.state_dict(), path)
    return str(path)
