"""tools/test.py --crowd-report: the shipped demo checkpoint on tiny synthetic data (its
numbers against the analysis functions on the same predictions), an HRNet checkpoint (only
the rows that apply), CrowdPose and detected boxes."""
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mipnet.config import load_config
from mipnet.data import build_dataset, build_loader
from mipnet.cli.train_test import eval_main
from mipnet.engine.crowd_report import format_crowd_report
from mipnet.engine.evaluate import predictor_from_cfg, run_inference
from mipnet.evaluation.crowd import oks_ground_truth
from mipnet.evaluation.subsets import (best_oks_per_person, box_outcomes, crowd_error_rate,
                                       crowd_merged_boxes, occluded_ann_ids,
                                       second_instance_finds)
from mipnet.models import build_model
from mipnet.data.synthetic import generate_dataset
from mipnet.utils.checkpoint import load_model_weights
from tests.conftest import FIXTURES, REPO

DEMO_CFG = str(REPO / 'experiments' / 'synthetic' / 'demo_mipnet.yaml')
DEMO_CKPT = str(REPO / 'checkpoints' / 'demo_mipnet.pth')
TINY_HRNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_hrnet.yaml')
TINY_MIPNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
RESULTS = 'keypoints_val_results_{}.json'
REPORT_KEYS = {'model', 'checkpoint', 'dataset', 'annotation_file', 'boxes', 'instances',
               'found_oks', 'occluded_iou', 'not_applicable', 'occluded_subset',
               'crowd_merged_boxes', 'crowd_error_rate', 'people_found', 'seconds', 'figure'}


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """The first 5 validation images of `make demo`'s data (seed 0, full size): image 4
    holds a person only the demo model's instance 1 finds."""
    root = tmp_path_factory.mktemp('crowd_data')
    generate_dataset(str(root), num_train=0, num_val=5, seed=0)
    return root


@pytest.fixture(scope='module')
def demo_report(demo_data, tmp_path_factory):
    """tools/test.py --crowd-report on the demo checkpoint, as a user runs it (a process
    whose stdout is not a terminal)."""
    out = tmp_path_factory.mktemp('crowd_out')
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'test.py'), '--cfg', DEMO_CFG,
         '--data_path', str(demo_data), '--crowd-report', 'TEST.MODEL_FILE', DEMO_CKPT,
         'OUTPUT_DIR', str(out), 'LOG_DIR', str(out / 'log')],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    run = out / 'synthetic' / 'pose_hrnet_se_lambda' / 'demo_mipnet'
    return run, json.loads((run / 'crowd_report.json').read_text()), proc.stdout


def test_demo_report_has_every_part_and_its_files(demo_report):
    run, report, stdout = demo_report
    assert set(report) == REPORT_KEYS
    assert report['instances'] == 2 and report['not_applicable'] == {}
    assert report['model'] == 'pose_hrnet_se_lambda' and report['checkpoint'] == DEMO_CKPT
    for part in ('occluded_subset', 'crowd_merged_boxes'):
        assert list(report[part]['metrics']) == ['merged', 'instance 0', 'instance 1']
    assert set(report['crowd_error_rate']) == {'all', 'occluded', 'others'}
    assert list(report['people_found']['found']) == [
        'merged', 'instance 0', 'instance 1', 'any instance', 'only instance >= 1']
    assert report['seconds']['total'] >= report['seconds']['crowd_merged_boxes'] > 0
    # After the usual table, in the log (and on stdout): the report's text.
    assert '| Instances | AP | AP .5 |' in stdout
    assert stdout.index('| Instances | AP | AP .5 |') < stdout.index('Crowd report of')
    assert format_crowd_report(report) in stdout
    # Progress lines (stdout is not a terminal): the main evaluation, then the merged boxes.
    assert len(re.findall(r'eval: (\d+)/\1 boxes \(100%\)', stdout)) == 2
    assert '| only by instances k >= 1 |' in stdout and 'crowd_report.json written' in stdout
    figure = cv2.imread(report['figure'])
    assert report['figure'] == str(run / 'crowd_report.png') and figure.shape[0] > 200


def test_demo_report_numbers_are_the_analysis_functions_on_the_same_predictions(
        demo_data, demo_report):
    run, report, _ = demo_report
    gt_file = str(demo_data / 'annotations' / 'person_keypoints_val.json')
    occluded = occluded_ann_ids(gt_file)
    first, second = (str(run / 'results' / RESULTS.format(f'instance{k}')) for k in (0, 1))
    # People found only by instance 1: second_instance_finds on the result files of the
    # same evaluation; this data holds at least one such person.
    finds = {a for ids in second_instance_finds(gt_file, first, second).values() for a in ids}
    assert finds and report['people_found']['only_instance_ge1_ids'] == sorted(finds)
    found = report['people_found']['found']
    assert found['only instance >= 1'] == {'all': len(finds),
                                           'occluded': len(finds & occluded)}
    for mode, tag in (('merged', 'merged'), ('instance 0', 'instance0'),
                      ('instance 1', 'instance1')):
        best = best_oks_per_person(gt_file, str(run / 'results' / RESULTS.format(tag)))
        ids = {a for a, v in best.items() if v >= 0.5}
        assert found[mode] == {'all': len(ids), 'occluded': len(ids & occluded)}, mode
    people = report['people_found']['people']
    assert people['occluded'] == report['occluded_subset']['people'] == len(occluded)
    # The crowd-error rate: box_outcomes / crowd_error_rate of the model's per-box poses.
    cfg = load_config(DEMO_CFG, ['DATASET.ROOT', str(demo_data)])
    model = build_model(cfg, is_train=False)
    load_model_weights(model, DEMO_CKPT)
    dataset = build_dataset(cfg, is_train=False, device_targets=True)
    pred = run_inference(predictor_from_cfg(cfg, model, dataset.meta.flip_index),
                         build_loader(cfg, dataset, False, torch.device('cpu')),
                         torch.device('cpu'), progress=False)
    ann_ids = [dataset.db[i]['ann_id'] for i in pred['index']]
    rates = report['crowd_error_rate']
    for group, subset in (('occluded', occluded), ('others', set(ann_ids) - occluded)):
        counts = box_outcomes(gt_file, ann_ids, pred['keypoints'], 'coco', subset=subset)
        assert {k: rates[group][k] for k in counts} == counts
        assert rates[group]['rate'] == pytest.approx(crowd_error_rate(counts))
    assert rates['all']['rate'] == pytest.approx(
        rates['all']['other'] / rates['all']['people'])
    assert rates['all']['people'] == people['all']
    # Crowd-merged boxes: the boxes of crowd_merged_boxes, their own result files.
    merged = report['crowd_merged_boxes']
    assert merged['boxes'] == len(crowd_merged_boxes(gt_file)) < people['all']
    assert (run / 'crowd_merged' / 'results' / RESULTS.format('merged')).is_file()
    metrics = json.loads((run / 'metrics_val.json').read_text())
    assert report['occluded_subset']['metrics']['merged']['AP'] == metrics['merged']['AP']


def _tiny_checkpoint(cfg_file, path):
    torch.manual_seed(0)
    model = build_model(load_config(cfg_file)).eval()
    torch.save(model.state_dict(), path)
    return str(path)


def test_hrnet_checkpoint_shows_only_the_rows_that_apply(synthetic_root, tmp_path, capsys):
    ckpt = _tiny_checkpoint(TINY_HRNET, tmp_path / 'hrnet.pth')
    eval_main(['--cfg', TINY_HRNET, '--data_path', str(synthetic_root), '--crowd-report',
               'TEST.MODEL_FILE', ckpt, 'OUTPUT_DIR', str(tmp_path / 'out'),
               'LOG_DIR', str(tmp_path / 'log')])
    run = tmp_path / 'out' / 'synthetic' / 'pose_hrnet' / 'tiny_hrnet'
    report = json.loads((run / 'crowd_report.json').read_text())
    assert report['instances'] == 1
    assert list(report['people_found']['found']) == ['merged']
    assert list(report['crowd_merged_boxes']['metrics']) == ['merged']
    assert list(report['occluded_subset']['metrics']) == ['merged']
    assert set(report['crowd_error_rate']) == {'all', 'occluded', 'others'}
    assert set(report['not_applicable']) == {'instances'}
    text = format_crowd_report(report)
    assert text in capsys.readouterr().out
    assert '| instance 0 (the only one) |' in text
    for absent in ('instance 1', 'merged (all instances)', 'any instance', 'k >= 1 |',
                   'AP (E)'):
        assert absent not in text, absent


@pytest.mark.parametrize('name, folder, ann, det', [
    ('crowdpose', 'crowdpose', 'test_crowdpose.json', None),
    ('ochuman', 'ochuman', 'test_ochuman.json', None),
    ('coco', 'coco', 'test_coco.json', 'test_coco_det_AP_H_56.json')])
def test_crowdpose_and_detected_boxes(tmp_path, name, folder, ann, det):
    """CrowdPose (14 joints, no 'area' in its annotations) and OCHuman with ground-truth
    boxes, and COCO on detections: there a box has no own person and cannot be merged."""
    joints = 14 if name == 'crowdpose' else 17
    opts = ['DATASET.TEST_DATASET', name, 'DATASET.TRAIN_DATASET', name,
            'MODEL.NUM_JOINTS', str(joints),
            'DATASET.TEST_IMAGE_DIR', str(FIXTURES / folder),
            'DATASET.TEST_ANNOTATION_FILE', str(FIXTURES / folder / ann),
            'OUTPUT_DIR', str(tmp_path / 'out'), 'LOG_DIR', str(tmp_path / 'log')]
    if det:
        opts += ['TEST.USE_GT_BBOX', 'false', 'TEST.COCO_BBOX_FILE',
                 str(FIXTURES / folder / det)]
    torch.manual_seed(0)
    model = build_model(load_config(TINY_MIPNET, ['MODEL.NUM_JOINTS', str(joints)])).eval()
    torch.save(model.state_dict(), tmp_path / 'tiny.pth')
    eval_main(['--cfg', TINY_MIPNET, '--crowd-report', 'TEST.MODEL_FILE',
               str(tmp_path / 'tiny.pth'), *opts])
    (path,) = (tmp_path / 'out').rglob('crowd_report.json')
    report = json.loads(path.read_text())
    gt = oks_ground_truth(str(FIXTURES / folder / ann), name)
    evaluable = [a for a in gt.dataset['annotations']
                 if not a.get('iscrowd') and np.count_nonzero(a['keypoints'][2::3])]
    assert report['people_found']['people']['all'] == len(evaluable)
    if name == 'crowdpose':
        assert list(report['crowd_index_ap']) == ['merged', 'instance 0', 'instance 1']
        assert set(report['crowd_index_ap']['merged']) == {'AP (E)', 'AP (M)', 'AP (H)'}
        assert report['crowd_error_rate']['all']['people'] == len(evaluable)
        assert report['not_applicable'] == {}
        assert all(a['area'] == pytest.approx(a['bbox'][2] * a['bbox'][3] * 0.53)
                   for a in gt.dataset['annotations'])
    elif name == 'ochuman':
        assert 'crowd_index_ap' not in report and report['not_applicable'] == {}
        assert report['crowd_merged_boxes']['boxes'] < len(evaluable)  # overlapping people
        assert report['occluded_subset']['people'] > 0
    else:
        assert 'crowd_index_ap' not in report
        assert set(report['not_applicable']) == {'crowd_merged_boxes', 'crowd_error_rate'}
        assert 'crowd_merged_boxes' not in report and 'crowd_error_rate' not in report
        text = format_crowd_report(report)
        assert 'Crowd-merged boxes' not in text and 'Crowd-error rate' not in text
        assert 'Not shown: crowd_error_rate: a detected box has no own person' in text


def test_two_gloo_processes_give_the_single_process_report(demo_data, demo_report, tmp_path):
    """Under torchrun the crowd-merged inference is sharded like the main evaluation and
    rank 0 alone writes the report: the same numbers as one process."""
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
         '--master_port', str(port), str(REPO / 'tools' / 'test.py'), '--cfg', DEMO_CFG,
         '--data_path', str(demo_data), '--crowd-report', 'TEST.MODEL_FILE', DEMO_CKPT,
         'OUTPUT_DIR', str(tmp_path), 'LOG_DIR', str(tmp_path / 'log'), 'DEVICE', 'cpu',
         'DIST_TIMEOUT', '60', 'TEST.BATCH_SIZE_PER_GPU', '4'],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (path,) = tmp_path.rglob('crowd_report.json')
    report, single = json.loads(path.read_text()), demo_report[1]
    assert report['people_found'] == single['people_found']
    assert report['crowd_error_rate'] == single['crowd_error_rate']

    def flat(tree, prefix=''):
        if isinstance(tree, dict):
            return {k: v for key, sub in tree.items() for k, v in flat(sub, f'{prefix}/{key}').items()}
        return {prefix: tree}

    for key in ('occluded_subset', 'crowd_merged_boxes'):
        assert flat(report[key]) == pytest.approx(flat(single[key]), abs=2e-3), key
