"""Evaluation: heatmap decoding, OKS-NMS, multi-instance merging and keypoint metrics."""
from mipnet.evaluation.decode import (dark_refine, flip_average, gaussian_blur_heatmaps,
                                      get_final_preds, get_max_preds,
                                      heatmap_to_image_coords)
from mipnet.evaluation.metrics import (COCO_METRIC_NAMES, CROWDPOSE_METRIC_NAMES,
                                       CROWDPOSE_SIGMAS, CrowdPoseCOCOeval,
                                       format_metrics_table, keypoint_eval, load_coco)
from mipnet.evaluation.nms import (oks_iou, oks_nms, oks_nms_arrays, resolve_sigmas,
                                   soft_oks_nms, soft_oks_nms_arrays)
from mipnet.evaluation.postprocess import (postprocess_options_from_cfg, rescore,
                                           rescore_and_merge)

__all__ = [
    'get_final_preds', 'get_max_preds', 'dark_refine', 'gaussian_blur_heatmaps',
    'heatmap_to_image_coords', 'flip_average',
    'oks_iou', 'oks_nms', 'soft_oks_nms', 'oks_nms_arrays', 'soft_oks_nms_arrays',
    'resolve_sigmas',
    'rescore', 'rescore_and_merge', 'postprocess_options_from_cfg',
    'keypoint_eval', 'format_metrics_table', 'CrowdPoseCOCOeval', 'load_coco',
    'COCO_METRIC_NAMES', 'CROWDPOSE_METRIC_NAMES', 'CROWDPOSE_SIGMAS',
]
