"""Helpers shared by the API and demo tests: a random tiny checkpoint, a small video."""
import cv2
import numpy as np
import torch

from mipnet.config import load_config
from mipnet.models import build_model
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')


def save_tiny_random_checkpoint(path):
    """Save a random tiny MIPNet whose heatmaps sit around 0.5 (every joint has a confidence
    near 0.5, so it is drawn and scores lie in [0, 1]; its argmax varies with the image);
    returns ``str(path)``."""
    torch.manual_seed(0)
    model = build_model(load_config(TINY)).eval()
    with torch.no_grad():
        model.final_layer.weight.mul_(0.5)
        model.final_layer.bias.fill_(0.5)
    torch.save(model.state_dict(), path)
    return str(path)


def write_random_video(path, frames, width=96, height=80):
    """An mp4v video of ``frames`` random (height, width) BGR frames at 10 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10, (width, height))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    writer.release()
    return path
