"""End to end on CPU: train a tiny MIPNet on synthetic crowds, evaluate, re-evaluate the
checkpoint with tools/test.py, and the same through torchrun with two gloo processes."""
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mipnet.config import load_config
from mipnet.data import build_dataset
from mipnet.data.transforms import flip_back
from mipnet.cli.train_test import eval_main, train_main
from mipnet.engine.evaluate import predictor_from_cfg, run_inference
from mipnet.evaluation.inference import MultiInstancePredictor
from mipnet.models import build_model, model_meta
from mipnet.utils.checkpoint import load_file, load_state_dict_file
from tests.conftest import REPO
from tests.engine.conftest import TINY, tiny_opts

RUN_DIR = ('synthetic', 'pose_hrnet_se_lambda', 'tiny_mipnet')


@pytest.fixture(scope='module')
def trained(synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp('train')
    summary = train_main(['--cfg', TINY, *tiny_opts(synthetic_root, out, 'TRAIN.END_EPOCH', '3',
                                                    'TRAIN.LR_STEP', '[10, 20]')])
    return out, summary


def test_training_learns_and_writes_checkpoints(trained):
    out, summary = trained
    losses = summary['epoch_losses']
    assert len(losses) == 3
    assert losses[-1] < 0.8 * losses[0], losses
    metrics = summary['metrics']
    assert list(metrics) == ['merged', 'instance 0', 'instance 1']
    for values in metrics.values():
        assert 0.0 <= values['AP'] <= 1.0 and 'AR' in values and 'AP .5' in values
    run = out.joinpath('output', *RUN_DIR)
    for name in ('checkpoint.pth', 'model_best.pth', 'final_state.pth'):
        assert (run / name).is_file(), name
    state = torch.load(run / 'checkpoint.pth', weights_only=True)
    assert state['epoch'] == 3 and set(state) >= {'optimizer', 'scheduler', 'scaler', 'perf'}
    # Every file records the model-defining settings it was trained with.
    meta = model_meta(load_config(TINY, []))
    assert meta['MODEL.IMAGE_SIZE'] == [64, 64] and meta['MODEL.LAMBDA_IDENTITY_START'] is False
    for name in ('checkpoint.pth', 'model_best.pth', 'final_state.pth'):
        assert load_file(str(run / name))['meta'] == meta, name
    assert state['perf'] == pytest.approx(summary['best_ap'])
    log = open(summary['log_file']).read()
    assert re.search(r'Epoch: \[2\]\[\d+/\d+\]\tTime .*Speed [\d.]+ samples/s.*Loss .*Accuracy', log)
    # stdout is not a terminal here: progress lines (done/total, rate, ETA) instead of bars.
    steps = re.findall(r'epoch 2: (\d+)/(\d+) steps \((\d+)%\), [\d.]+ steps/s, (ETA|took) ', log)
    assert steps and steps[-1][0] == steps[-1][1] and steps[-1][2:] == ('100', 'took')
    assert re.search(r'eval: \d+/\d+ boxes \(100%\), [\d.]+ boxes/s, took \d+ s', log)
    assert 'pose_hrnet_se_lambda on coco person_keypoints_val.json, boxes: ground-truth boxes' \
        in log
    # The validation table: one Markdown table, a row per instance mode, as many cells as
    # the header (10 COCO metrics + the label).
    table = re.findall(r'^\| Instances \| AP \|.*\n\|---\|.*\n(?:\|.*\n){3}', log, re.M)[-1]
    header, rule, *rows = table.splitlines()
    assert [r.split(' | ')[0] for r in rows] == ['| merged', '| instance 0', '| instance 1']
    assert {line.count('|') for line in (header, rule, *rows)} == {12}
    for mode in ('merged', 'instance0', 'instance1'):
        results = json.load(open(run / 'results' / f'keypoints_val_results_{mode}.json'))
        assert results and all(len(r['keypoints']) == 51 for r in results)


def _results(run, mode):
    return json.load(open(run / 'results' / f'keypoints_val_results_{mode}.json'))


def test_test_py_reproduces_final_ap(trained, synthetic_root, tmp_path):
    out, summary = trained
    run = out.joinpath('output', *RUN_DIR)
    metrics = eval_main(['--cfg', TINY, *tiny_opts(synthetic_root, tmp_path, 'TEST.MODEL_FILE',
                                                   str(run / 'final_state.pth'))])
    for mode, values in summary['metrics'].items():
        assert metrics[mode] == pytest.approx(values, abs=1e-9), mode
    # Not only the metrics: the very same poses and scores.
    rerun = tmp_path.joinpath('output', *RUN_DIR)
    for mode in ('merged', 'instance0', 'instance1'):
        a, b = _results(run, mode), _results(rerun, mode)
        assert len(a) == len(b) > 0
        np.testing.assert_allclose([r['keypoints'] for r in a], [r['keypoints'] for r in b],
                                   atol=1e-4)
        np.testing.assert_allclose([r['score'] for r in a], [r['score'] for r in b], atol=1e-6)


def test_test_py_cli_errors(synthetic_root, tmp_path):
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), '--cfg', TINY,
           *tiny_opts(synthetic_root, tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and 'TEST.MODEL_FILE is empty' in res.stderr
    res = subprocess.run(cmd + ['TEST.MODEL_FILE', str(tmp_path / 'nope.pth')],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and 'checkpoint not found' in res.stderr
    assert 'Traceback' not in res.stderr


def test_shared_trunk_and_reference_evaluation_agree(trained, synthetic_root):
    out, _ = trained
    cfg = load_config(TINY, tiny_opts(synthetic_root, out))
    model = build_model(cfg)
    model.load_state_dict(load_state_dict_file(str(out.joinpath('output', *RUN_DIR,
                                                                 'final_state.pth'))))
    model.eval()
    dataset = build_dataset(cfg, is_train=False)
    images = torch.stack([dataset[i][0] for i in range(4)])
    centers = np.stack([dataset[i][3]['center'] for i in range(4)])
    scales = np.stack([dataset[i][3]['scale'] for i in range(4)])
    shared = predictor_from_cfg(cfg, model, dataset.meta.flip_index)
    reference = MultiInstancePredictor(model, [0, 1], dataset.meta.flip_index,
                                       cfg.TEST.SHIFT_HEATMAP, shared_trunk=False)
    a, b = shared(images, centers, scales), reference(images, centers, scales)
    assert a.shape == (4, 2, 17, 3)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_flip_test_averages_with_flipped_back_heatmaps(trained, synthetic_root):
    out, _ = trained
    cfg = load_config(TINY, tiny_opts(synthetic_root, out))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    meta = build_dataset(cfg, is_train=False).meta
    images = torch.randn(2, 3, 64, 64)
    plain = MultiInstancePredictor(model, [0, 1]).heatmaps(images).numpy()
    mirrored = MultiInstancePredictor(model, [0, 1]).heatmaps(images.flip(3)).numpy()
    for shift in (False, True):
        got = MultiInstancePredictor(model, [0, 1], meta.flip_index, shift).heatmaps(images)
        for k in range(2):
            back = flip_back(mirrored[:, k], meta.flip_pairs)
            if shift:
                back[..., 1:] = back[..., :-1].copy()
            np.testing.assert_allclose(got[:, k].numpy(), (plain[:, k] + back) / 2, atol=1e-6)


def test_amp_on_cpu_trains(synthetic_root, tmp_path):
    summary = train_main(['--cfg', TINY, *tiny_opts(synthetic_root, tmp_path,
                                                    'TRAIN.END_EPOCH', '1', 'TRAIN.AMP', 'True')])
    assert np.isfinite(summary['epoch_losses'][0])
    assert summary['metrics']['merged']['AP'] >= 0


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_torchrun_two_gloo_processes_match_single_process_eval(synthetic_root, tmp_path):
    opts = tiny_opts(synthetic_root, tmp_path, 'TRAIN.END_EPOCH', '1', 'TRAIN.BATCH_SIZE_PER_GPU', '4',
                     'DIST_TIMEOUT', '60')
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(_free_port()), str(REPO / 'tools' / 'train.py'), '--cfg', TINY,
           *opts]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path.joinpath('output', *RUN_DIR)
    log = open(sorted(run.glob('train_*.log'))[-1]).read()
    assert 'world size: 2' in log
    ddp_ap = float(re.search(r'Final AP \(merged instances\): ([\d.]+)', log).group(1))
    single = tmp_path / 'single'
    metrics = eval_main(['--cfg', TINY, *tiny_opts(synthetic_root, single), 'TEST.MODEL_FILE',
                         str(run / 'final_state.pth')])
    assert metrics['merged']['AP'] == pytest.approx(ddp_ap, abs=5e-5)
    # The sharded evaluation gathered every box exactly once: same poses as one process.
    a = _results(run, 'merged')
    b = _results(single.joinpath('output', *RUN_DIR), 'merged')
    assert len(a) == len(b) > 0
    np.testing.assert_allclose([r['keypoints'] for r in a], [r['keypoints'] for r in b], atol=1e-3)


def test_crop_items_give_the_predictions_of_image_items(trained, synthetic_root):
    """Evaluation reads crop items and normalises them on the device: the same predictions
    as the per-sample float images (COLOR_RGB on, so the channel flip is exercised)."""
    out, _ = trained
    cfg = load_config(TINY, tiny_opts(synthetic_root, out) + ['DATASET.COLOR_RGB', 'True'])
    model = build_model(cfg)
    model.load_state_dict(load_state_dict_file(str(out.joinpath('output', *RUN_DIR,
                                                                 'final_state.pth'))))
    predictor = predictor_from_cfg(cfg, model, None)
    got = {}
    for device_targets in (False, True):
        dataset = build_dataset(cfg, is_train=False, device_targets=device_targets)
        subset = torch.utils.data.Subset(dataset, range(10))
        got[device_targets] = run_inference(predictor, DataLoader(subset, batch_size=4),
                                            torch.device('cpu'), progress=False)
    assert got[True]['keypoints'].shape == (10, 2, 17, 3)
    for key, value in got[False].items():
        np.testing.assert_array_equal(value, got[True][key])


def test_crop_items_from_an_unknown_wrapper_are_one_error(synthetic_root, tmp_path):
    cfg = load_config(TINY, tiny_opts(synthetic_root, tmp_path))
    dataset = build_dataset(cfg, is_train=False, device_targets=True)
    both = torch.utils.data.ConcatDataset([dataset, dataset])
    predictor = predictor_from_cfg(cfg, build_model(cfg), None)
    with pytest.raises(TypeError, match='uint8 crops from a ConcatDataset, which does not say '
                                        r'their channel order \(color_rgb\)'):
        run_inference(predictor, DataLoader(both, batch_size=2), torch.device('cpu'),
                      progress=False)
