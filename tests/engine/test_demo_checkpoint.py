"""The shipped demo model (checkpoints/demo_mipnet.pth): small, checked, and working.

It is evaluated here on the first 20 validation images of ``make demo`` (synthetic seed 0:
every image is drawn from its own seed, so these are the same images), through the same
tools/test.py entry point as the demo.
"""
import logging
import os
import subprocess
import sys

import pytest
import torch

from mipnet.config import load_config
from mipnet.data.synthetic import generate_split
from mipnet.cli.train_test import eval_main
from mipnet.evaluation.subsets import second_instance_finds
from mipnet.models import build_model, load_weights, model_meta
from mipnet.utils.checkpoint import (CheckpointError, load_file, load_model_weights,
                                     load_state_dict_file, verify_sha256)
from tests.conftest import REPO

CKPT = REPO / 'checkpoints' / 'demo_mipnet.pth'
CFG = str(REPO / 'experiments' / 'synthetic' / 'demo_mipnet.yaml')
# Measured on these 20 images (2-core CPU, torch 2.13.0): merged AP 0.473, instance-1 AP 0.269,
# 2 people found only by instance 1 (images 4 and 14). The floors leave room for float noise.
MIN_AP, MIN_AP_INSTANCE_1, MIN_FOUND_BY_INSTANCE_1 = 0.4, 0.2, 2
RUN_DIR = ('synthetic', 'pose_hrnet_se_lambda', 'demo_mipnet')


def test_demo_checkpoint_is_small_checked_and_fits_its_config():
    assert os.path.getsize(CKPT) <= 10 * 2 ** 20
    assert verify_sha256(str(CKPT)) is True
    load_model_weights(build_model(load_config(CFG)), str(CKPT))
    # It records the settings it was trained with (issue 27: checkpoint metadata).
    assert load_file(str(CKPT))['meta'] == model_meta(load_config(CFG))


def test_checkpoint_for_another_input_size_is_one_error(tmp_path):
    """The demo model (64x96) under small_mipnet.yaml (96x128) loaded silently and scored
    AP 0.352 instead of 0.426; now tools/test.py refuses it, naming the keys."""
    small = str(REPO / 'experiments' / 'synthetic' / 'small_mipnet.yaml')
    with pytest.raises(CheckpointError, match=r'MODEL\.IMAGE_SIZE \[64, 96\] \(config: '
                                              r'\[96, 128\]\).*MODEL\.HEATMAP_SIZE'):
        load_weights(build_model(load_config(small)), load_config(small), str(CKPT))
    res = subprocess.run([sys.executable, str(REPO / 'tools' / 'test.py'), '--cfg', small,
                          '--data_path', str(tmp_path / 'none'), 'TEST.MODEL_FILE', str(CKPT),
                          'OUTPUT_DIR', str(tmp_path / 'out'), 'LOG_DIR', str(tmp_path / 'log')],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert 'Traceback' not in res.stderr
    assert 'MODEL.IMAGE_SIZE [64, 96] (config: [96, 128])' in res.stderr, res.stderr


def test_weights_only_file_loads_and_says_once_it_cannot_be_checked(tmp_path, caplog):
    """Reference / official files are plain state dicts: loaded, with one info line."""
    path = tmp_path / 'weights_only.pth'
    torch.save(load_state_dict_file(str(CKPT)), path)
    cfg = load_config(CFG)
    with caplog.at_level(logging.INFO, logger='mipnet.utils.checkpoint'):
        for _ in range(2):
            load_weights(build_model(cfg), cfg, str(path))
    lines = [r for r in caplog.records if 'weights-only' in r.getMessage()]
    assert len(lines) == 1 and str(path) in lines[0].getMessage()


def test_demo_checkpoint_finds_people_with_its_second_instance(tmp_path):
    gt = generate_split(str(tmp_path / 'data'), 'val', 20, seed=0)
    metrics = eval_main(['--cfg', CFG, '--data_path', str(tmp_path / 'data'), '--device', 'cpu',
                         'TEST.MODEL_FILE', str(CKPT), 'OUTPUT_DIR', str(tmp_path / 'out'),
                         'LOG_DIR', str(tmp_path / 'log')])
    assert metrics['merged']['AP'] >= MIN_AP, metrics
    assert metrics['instance 1']['AP'] >= MIN_AP_INSTANCE_1, metrics
    results = tmp_path.joinpath('out', *RUN_DIR, 'results')
    finds = second_instance_finds(gt, results / 'keypoints_val_results_instance0.json',
                                  results / 'keypoints_val_results_instance1.json',
                                  score_thre=0.2)
    assert sum(map(len, finds.values())) >= MIN_FOUND_BY_INSTANCE_1, finds
