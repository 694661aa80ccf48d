"""Evaluation with DATASET.SKIP_BROKEN_IMAGES: a broken image's boxes get no prediction and
no other box is predicted twice."""
import shutil

import numpy as np
import torch

from mipnet.config import load_config
from mipnet.data import build_dataset, build_loader
from mipnet.engine.evaluate import gather_predictions, predictor_from_cfg, run_inference
from mipnet.models import build_model
from tests.engine.conftest import TINY, tiny_opts


def test_broken_image_is_skipped_without_duplicates(synthetic_root, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(synthetic_root, root)
    cfg = load_config(TINY, tiny_opts(root, tmp_path, 'DATASET.SKIP_BROKEN_IMAGES', 'True',
                                      'TEST.BATCH_SIZE_PER_GPU', '4'))
    dataset = build_dataset(cfg, is_train=False)
    broken = dataset.db[0]['image']
    open(broken, 'wb').close()
    lost = {i for i, rec in enumerate(dataset.db) if rec['image'] == broken}
    loader = build_loader(cfg, dataset, False, device=torch.device('cpu'))
    model = build_model(cfg).eval()
    predictions = gather_predictions(run_inference(predictor_from_cfg(cfg, model, None),
                                                   loader, 'cpu', progress=False))
    index = predictions['index']
    assert len(index) == len(np.unique(index)) == len(dataset.db) - len(lost)
    assert not lost & set(index.tolist())
    assert dataset.skipped_images == 1
