"""mipnet.analysis: settings of the comparison, the occluded-subset training hook, the
report tables read from structured instance modes."""
import json
import os
import types

import pytest

from mipnet.analysis.compare import OccludedSubsetHook, final_weights
from mipnet.analysis.report import (crowd_box_table, crowd_error_table, mode_label,
                                    per_box_table, tables)
from mipnet.analysis.settings import (MODELS, REFERENCE_FINETUNE_STEPS, REFERENCE_HRNET_STEPS,
                                      ROOT, scaled_steps)
from mipnet.data.metadata import get_keypoint_meta
from mipnet.data.synthetic import generate_dataset
from mipnet.engine.evaluate import MERGED, InstanceMode, results_file
from mipnet.evaluation.subsets import occluded_ann_ids


def test_models_and_reference_schedule_in_proportion():
    assert [m.label for m in MODELS] == ['HRNet (pose_hrnet)', 'MIPNet (pose_hrnet_se_lambda)']
    assert all(os.path.isfile(m.cfg_path) for m in MODELS)
    assert MODELS[1].cfg_path == os.path.join(ROOT, 'experiments', 'synthetic',
                                              'small_mipnet.yaml')
    # The reference: HRNet 210 epochs, drops at 170 / 200; fine-tuning 110, drops at 70 / 100.
    assert scaled_steps(210, REFERENCE_HRNET_STEPS) == [170, 200]
    assert scaled_steps(110, REFERENCE_FINETUNE_STEPS) == [70, 100]
    assert scaled_steps(14, REFERENCE_HRNET_STEPS) == [11, 13]
    assert scaled_steps(7, REFERENCE_FINETUNE_STEPS) == [4, 6]
    assert scaled_steps(1, REFERENCE_FINETUNE_STEPS) == [1, 2]
    # A drop at the last epoch boundary would never take effect: pulled inside.
    assert scaled_steps(8, REFERENCE_HRNET_STEPS) == [6, 7]
    assert scaled_steps(4, REFERENCE_FINETUNE_STEPS) == [2, 3]
    assert scaled_steps(2, REFERENCE_FINETUNE_STEPS) == [1, 2]  # no room: unchanged
    weights = final_weights('/o', MODELS[0], ['OUTPUT_DIR', '/x'])
    assert weights == '/o/synthetic/pose_hrnet/small_hrnet/final_state.pth'


def test_mode_labels_come_from_instance_modes():
    assert mode_label(MERGED) == 'merged (λ = e0 and e1)'
    assert mode_label(InstanceMode(1)) == 'λ = e1 only'


@pytest.fixture(scope='module')
def val_gt(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    generate_dataset(str(root), num_train=1, num_val=6, seed=3, image_size=(128, 128))
    with open(root / 'annotations' / 'person_keypoints_val.json') as f:
        return root, json.load(f)


def test_occluded_subset_hook_reads_the_merged_results_file(val_gt, tmp_path):
    root, gt = val_gt
    occluded = occluded_ann_ids(gt)
    assert occluded
    # The ground truth as predictions of every occluded person only: AP 1 on the subset.
    results = [dict(image_id=a['image_id'], category_id=1, keypoints=a['keypoints'],
                    score=1.0) for a in gt['annotations'] if a['id'] in occluded]
    path = results_file(str(tmp_path), 'val', MERGED)
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as f:
        json.dump(results, f)
    trainer = types.SimpleNamespace(
        output_dir=str(tmp_path),
        cfg=types.SimpleNamespace(DATASET=types.SimpleNamespace(TEST_SET='val')),
        valid_loader=types.SimpleNamespace(
            dataset=types.SimpleNamespace(meta=get_keypoint_meta('coco'))))
    hook = OccludedSubsetHook('HRNet', str(root / 'annotations' / 'person_keypoints_val.json'),
                              occluded)
    metrics = {'merged': {'AP': 0.25, 'AR': 0.5}}
    hook.after_validation(trainer, 0, metrics)
    (record,) = hook.evaluations
    assert record['metrics'] is metrics
    assert record['occluded']['AP'] == pytest.approx(1.0)
    assert record['occluded']['num_gt'] == len(
        [a for a in gt['annotations'] if a['id'] in occluded and a['num_keypoints'] > 0])


def _metrics(ap):
    return {'AP': ap, 'AP .5': ap + 0.1, 'AP .75': ap, 'AR': ap + 0.2, 'AR .5': ap + 0.3,
            'num_gt': 7}


def _run(name, model, num_modes, ap, own, other):
    keys = ['merged'] + [f'instance {i}' for i in range(num_modes - 1)]
    metrics = {k: _metrics(ap + 0.01 * i) for i, k in enumerate(keys)}
    box = {'people': 10, 'own': own, 'other': other, 'found': own + 1,
           'crowd_error_rate': other / 10}
    return dict(label=f'{name} ({model})', name=name, metrics=metrics, occluded=metrics,
                per_box={'occluded': box, 'others': dict(box, other=0, crowd_error_rate=0.0)},
                crowd_boxes=dict(boxes=5, metrics=metrics, occluded=metrics))


def test_tables_per_instance_rows_and_rates():
    runs = [_run('HRNet', 'pose_hrnet', 1, 0.2, 5, 3),
            _run('MIPNet', 'pose_hrnet_se_lambda', 3, 0.3, 6, 1)]
    main = tables(runs, 7)
    assert '| HRNet (pose_hrnet) | 0.200 | 0.300 | 0.200 | 0.400 | 0.200 | 0.400 |' in main
    assert '| λ = e1 only | 0.320 | 0.420 | 0.320 | 0.520 | 0.320 | 0.520 |' in main
    assert 'HRNet (pose_hrnet), per instance' not in main
    crowd = crowd_box_table(runs)
    assert '| MIPNet λ = e0 only | 0.310 | 0.410 | 0.510 | 0.310 | 0.510 | 0.610 |' in crowd
    assert crowd.startswith('Crowd-merged boxes: 5 boxes')
    rates = crowd_error_table(runs)
    # occluded 3/10, others 0/10, all 3/20
    assert '| HRNet (pose_hrnet) | 30.0% | 0.0% | 15.0% |' in rates
    boxes = per_box_table(runs)
    assert '| MIPNet λ = e0: the box\'s pose is another person instead | 1 | 0 |' in boxes
    assert '| HRNet: the box\'s pose is its own person | 5 | 5 |' in boxes
