"""CrowdPose evaluation keeps every pose (the reference's protocol); COCO runs OKS-NMS."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from mipnet.config import load_config
from mipnet.data.metadata import get_keypoint_meta
from mipnet.engine.evaluate import evaluate_predictions
from tests.engine.conftest import TINY


def _gt_file(tmp_path, num_joints):
    kpts = []
    for j in range(num_joints):
        kpts += [100.0 + 5 * j, 100.0 + 7 * j, 2]
    image = {'id': 1, 'file_name': '1.jpg', 'height': 400, 'width': 400, 'crowdIndex': 0.5}
    ann = {'id': 1, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'num_keypoints': num_joints,
           'keypoints': kpts, 'bbox': [90.0, 90.0, 120.0, 150.0], 'area': 18000.0}
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps({'images': [image], 'annotations': [ann],
                                'categories': [{'id': 1, 'name': 'person'}]}))
    return str(path), np.array(kpts, dtype=np.float64).reshape(num_joints, 3)


def _run(tmp_path, name, overrides=()):
    """Two boxes of one image, two instances each, all four poses on the same person:
    OKS-NMS keeps one of them, the reference CrowdPose protocol all four."""
    meta = get_keypoint_meta(name)
    j = meta.num_joints
    gt_file, gt = _gt_file(tmp_path, j)
    pose = np.concatenate([gt[:, :2], np.full((j, 1), 0.9)], axis=1)
    predictions = {
        'keypoints': np.stack([np.stack([pose + 0.5 * (2 * b + k) for k in range(2)])
                               for b in range(2)]),  # (M=2 boxes, K=2, J, 3)
        'scale': np.full((2, 2), 0.75), 'score': np.ones(2), 'image_id': np.array([1, 1]),
    }
    cfg = load_config(TINY, ['DATASET.TEST_SET', 'val', *overrides])
    dataset = SimpleNamespace(meta=meta, annotation_file=gt_file)
    evaluate_predictions(predictions, dataset, cfg, str(tmp_path))
    with open(tmp_path / 'results' / 'keypoints_val_results_merged.json') as f:
        return json.load(f)


def test_crowdpose_writes_every_pose_of_every_instance(tmp_path):
    # Reference lib/dataset/crowdpose.py evaluate_lambda: "do not use nms, keep all
    # detections" (keep = []), so all M*K poses are written.
    assert len(_run(tmp_path, 'crowdpose')) == 4


def test_crowdpose_nms_is_one_key_away(tmp_path):
    assert len(_run(tmp_path, 'crowdpose', ['TEST.CROWDPOSE_NMS', 'true'])) == 1


@pytest.mark.parametrize('name', ['coco', 'ochuman'])
def test_coco_layouts_keep_oks_nms(tmp_path, name):
    assert len(_run(tmp_path, name)) == 1
