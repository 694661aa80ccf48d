"""Evaluate a checkpoint: the weights of ``TEST.MODEL_FILE`` on the configured test set."""
import logging
import os

from mipnet.config import ConfigError, run_output_dir
from mipnet.data import build_dataset, build_loader
from mipnet.engine.crowd_report import crowd_report
from mipnet.engine.evaluate import validate
from mipnet.engine.preflight import prepare_evaluation
from mipnet.models import build_model, load_weights
from mipnet.utils import dist
from mipnet.utils.files import write_json_atomic
from mipnet.utils.logging import setup_logging

logger = logging.getLogger(__name__)


def evaluate_checkpoint(cfg, cfg_file, local_rank=None):
    """Returns the metrics (rank 0) written also to ``<output>/metrics_<set>.json``; with
    ``TEST.CROWD_REPORT`` also the crowd report of the same predictions
    (:func:`mipnet.engine.crowd_report.crowd_report`)."""
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
        load_weights(model, cfg, cfg.TEST.MODEL_FILE)
        model.to(device).eval()
        dataset = build_dataset(cfg, is_train=False, device_targets=True)
        loader = build_loader(cfg, dataset, False, device)
        metrics, predictions = validate(cfg, model, loader, device, output_dir,
                                        keep_predictions=True)
        if metrics is not None:
            path = os.path.join(output_dir, f'metrics_{cfg.DATASET.TEST_SET}.json')
            write_json_atomic(path, metrics, indent=2)
            logger.info('metrics written to %s', path)
        if cfg.TEST.CROWD_REPORT:
            crowd_report(cfg, model, dataset, predictions, metrics, output_dir, device,
                         checkpoint=cfg.TEST.MODEL_FILE)
        return metrics
    finally:
        dist.cleanup()
