"""Evaluate a checkpoint: the weights of ``TEST.MODEL_FILE`` on the configured test set."""
import json
import logging
import os

from mipnet import zoo
from mipnet.config import ConfigError, run_output_dir
from mipnet.data import build_dataset, build_loader
from mipnet.engine.evaluate import validate
from mipnet.engine.preflight import prepare_evaluation
from mipnet.models import build_model
from mipnet.utils import dist
from mipnet.utils.checkpoint import load_model_weights
from mipnet.utils.logging import setup_logging

logger = logging.getLogger(__name__)


def evaluate_checkpoint(cfg, cfg_file, local_rank=None):
    """Returns the metrics (rank 0) written also to ``<output>/metrics_<set>.json``."""
    if not cfg.TEST.MODEL_FILE:
        raise ConfigError('TEST.MODEL_FILE is empty: pass the checkpoint to evaluate, e.g. '
                          'TEST.MODEL_FILE output/.../model_best.pth')
    try:
        device = dist.setup(cfg.DEVICE, cfg.DIST_TIMEOUT, local_rank)
        output_dir = run_output_dir(cfg, cfg_file)
        if dist.is_main_process():
            prepare_evaluation(cfg, output_dir)
        setup_logging(output_dir, 'test', dist.get_rank())
        model = build_model(cfg, is_train=False)
        load_model_weights(model, zoo.local_path(cfg.TEST.MODEL_FILE, 'pose'))
        model.to(device).eval()
        dataset = build_dataset(cfg, is_train=False, device_targets=True)
        loader = build_loader(cfg, dataset, False, device)
        metrics = validate(cfg, model, loader, device, output_dir)
        if metrics is not None:
            path = os.path.join(output_dir, f'metrics_{cfg.DATASET.TEST_SET}.json')
            with open(path, 'w') as f:
                json.dump(metrics, f, indent=2)
            logger.info('metrics written to %s', path)
        return metrics
    finally:
        dist.cleanup()
