"""Multi-instance inference, kept importable here for the training loop; the code lives in
:mod:`mipnet.evaluation.inference` (below the user API in :mod:`mipnet.apis`)."""
from mipnet.evaluation.inference import (MultiInstancePredictor, autocast_dtype,
                                         instance_heatmaps, predictor_from_cfg, unwrap)

__all__ = ['unwrap', 'autocast_dtype', 'instance_heatmaps', 'MultiInstancePredictor',
           'predictor_from_cfg']
