"""``zoo:NAME`` wherever a weights path goes, and zoo detectors by name, end to end against
the local HTTP server: --init_checkpoint (training), TEST.MODEL_FILE (tools/test.py and the
demo), MODEL.PRETRAINED, PoseInferencer(checkpoint=...), detector='yolox-...'."""
import json

import cv2
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from mipnet import zoo
from mipnet.apis import PoseInferencer, detector_names
from mipnet.config import load_config
from mipnet.cli.train_test import eval_main, train_main
from mipnet.cli.demo import main as demo_main
from mipnet.models import build_model
from tests.conftest import REPO
from tests.engine.conftest import synthetic_root, tiny_opts  # noqa: F401 - the fixture
from tests.zoo.conftest import (mmpose_name, register, rtmlib_zip, saved, tiny_mmpose_file)

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
TINY_HRNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_hrnet.yaml')
# What the fake detector finds, in its 64x64 input: two people, and a chair (class 56).
DETS = [[8, 4, 24, 60, 0.9], [30, 10, 50, 62, 0.8], [0, 0, 10, 10, 0.95]]
LABELS = [0, 0, 56]


def detector_onnx():
    """A 64x64 ONNX detector with the end-to-end layout of rtmlib's YOLOX exports: ``dets``
    (1, N, 5) and ``labels`` (1, N); its detections are constant (the image only passes
    through a multiplication by zero, so that it is a real input)."""
    dets = helper.make_tensor('dets_c', TensorProto.FLOAT, (1, 3, 5), np.ravel(DETS))
    labels = helper.make_tensor('labels_c', TensorProto.INT64, (1, 3), LABELS)
    zero = helper.make_tensor('zero', TensorProto.FLOAT, (), [0.0])
    nodes = [helper.make_node('ReduceMean', ['input'], ['mean'], keepdims=0),
             helper.make_node('Mul', ['mean', 'zero'], ['nothing']),
             helper.make_node('Add', ['dets_c', 'nothing'], ['dets']),
             helper.make_node('Identity', ['labels_c'], ['labels'])]
    graph = helper.make_graph(
        nodes, 'fake_yolox', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                            (1, 3, 64, 64))],
        [helper.make_tensor_value_info('dets', TensorProto.FLOAT, (1, 3, 5)),
         helper.make_tensor_value_info('labels', TensorProto.INT64, (1, 3))],
        initializer=[dets, labels, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture
def zoo_files(monkeypatch, server):
    """A tiny mmpose HRNet (COCO joints) and a fake YOLOX zip, registered in the zoo."""
    data, state = tiny_mmpose_file('1.x', seed=2)
    name = mmpose_name(data)
    server.files[name] = data
    pose = register(monkeypatch, name='tiny-mmpose-hrnet', filename=name, url=server.url(name),
                    layout='mmpose-1.x', sha256_prefix=name.split('-')[-1][:8])
    zipped = 'yolox_test_8xb8-300e_humanart-00000000.zip'
    server.files[zipped] = rtmlib_zip(detector_onnx())
    det = register(monkeypatch, name='yolox-test', kind='detector', filename=zipped,
                   url=server.url(zipped), layout='rtmlib-zip',
                   detector_options=(('input_size', (64, 64)), ('score_thre', 0.5)))
    return pose, det, state


def test_inferencer_takes_zoo_weights_and_a_zoo_detector(zoo_files, server):
    pose, det, state = zoo_files
    assert 'yolox-test' in detector_names() and 'yolox-m' in detector_names()
    image = np.full((128, 128, 3), 90, np.uint8)
    inferencer = PoseInferencer(TINY_HRNET, checkpoint='zoo:tiny-mmpose-hrnet',
                                detector='yolox-test', device='cpu')
    assert inferencer.cfg.TEST.MODEL_FILE == 'zoo:tiny-mmpose-hrnet'
    assert torch.equal(inferencer.model.final_layer.weight, state['head.final_layer.weight'])
    assert inferencer.detector.description.startswith('yolox-test (ONNX detector ')
    result = next(iter(inferencer(image)))
    # Person boxes only, scaled back from the 64x64 input (the image is 2x larger).
    np.testing.assert_allclose(result['boxes'], [[16, 8, 32, 112], [60, 20, 40, 104]])
    assert {p['box_index'] for p in result['poses']} == {0, 1}
    assert server.hits[pose.filename] == 1 and server.hits[det.filename] == 1
    # The same poses as from the converted file given by path.
    by_path = PoseInferencer(TINY_HRNET, checkpoint=zoo.local_path('zoo:tiny-mmpose-hrnet'),
                             detector='yolox-test', device='cpu')
    again = next(iter(by_path(image)))
    assert [p['keypoints'] for p in again['poses']] == [p['keypoints'] for p in result['poses']]


def test_demo_command_line_with_zoo_names(zoo_files, tmp_path, capsys):
    image = tmp_path / 'people.png'
    cv2.imwrite(str(image), np.full((128, 96, 3), 120, np.uint8))
    code = demo_main(['--cfg', TINY_HRNET, '--image', str(image), '--out', str(tmp_path / 'o'),
                      '--detector', 'yolox-test', '--det-score-thre', '0.85', '--device', 'cpu',
                      'TEST.MODEL_FILE', 'zoo:tiny-mmpose-hrnet'])
    assert code == 0, capsys.readouterr().err
    poses = json.loads((tmp_path / 'o' / 'people.json').read_text())
    assert {tuple(p['box']) for p in poses} == {(16.0, 8.0, 32.0, 112.0)}   # only score 0.9
    code = demo_main(['--cfg', TINY_HRNET, '--image', str(image), '--out', str(tmp_path / 'p'),
                      '--detector', 'yolox-test', '--det-model', 'x.onnx',
                      'TEST.MODEL_FILE', 'zoo:tiny-mmpose-hrnet'])
    assert code == 1
    assert 'error: --det-model is the model of --detector onnx' in capsys.readouterr().err
    code = demo_main(['--cfg', TINY_HRNET, '--image', str(image), '--out', str(tmp_path / 'q'),
                      '--detector', 'yolo', 'TEST.MODEL_FILE', 'zoo:tiny-mmpose-hrnet'])
    err = capsys.readouterr().err
    assert code == 1 and "error: unknown detector 'yolo'; choose one of none, file" in err


def test_init_checkpoint_and_model_file_from_the_zoo(zoo_files, synthetic_root, tmp_path):  # noqa: F811
    pose, _, state = zoo_files
    summary = train_main(['--cfg', TINY, '--max_steps', '1', '--init_checkpoint',
                          'zoo:tiny-mmpose-hrnet', *tiny_opts(synthetic_root, tmp_path)])
    log = open(summary['log_file']).read()
    assert f'initialised from {zoo.local_file(pose)}' in log and 'λ blocks' in log
    metrics = eval_main(['--cfg', TINY_HRNET, '--device', 'cpu',
                         *tiny_opts(synthetic_root, tmp_path / 'eval'),
                         'TEST.MODEL_FILE', 'zoo:tiny-mmpose-hrnet'])
    assert 0.0 <= metrics['merged']['AP'] <= 1.0


def test_pretrained_and_data_dir(monkeypatch, server):
    cfg = load_config(TINY_HRNET)
    conv1 = torch.randn(64, 3, 3, 3)
    server.files['hrnet_tiny-imagenet.pth'] = saved({'conv1.weight': conv1,
                                                    'fc.weight': torch.zeros(2, 2)}, legacy=False)
    register(monkeypatch, name='tiny-imagenet', kind='imagenet',
             filename='hrnet_tiny-imagenet.pth', url=server.url('hrnet_tiny-imagenet.pth'))
    cfg = load_config(TINY_HRNET, ['MODEL.PRETRAINED', 'zoo:tiny-imagenet', 'DATA_DIR', '/d',
                                   'TEST.MODEL_FILE', 'zoo:tiny-mmpose-hrnet'])
    assert cfg.MODEL.PRETRAINED == 'zoo:tiny-imagenet'             # not /d/zoo:...
    assert cfg.TEST.MODEL_FILE == 'zoo:tiny-mmpose-hrnet'
    net = build_model(cfg, is_train=True)
    assert torch.equal(net.conv1.weight, conv1)
    with pytest.raises(zoo.ZooError, match='zoo:tiny-imagenet is a imagenet file'):
        PoseInferencer(TINY_HRNET, checkpoint='zoo:tiny-imagenet')


def test_export_takes_zoo_weights(zoo_files, tmp_path, capsys):
    pytest.importorskip('onnxscript', reason='optional extra: pip install -e .[onnx]')
    from mipnet.cli import export
    code = export.main(['--cfg', TINY_HRNET, '--out', str(tmp_path / 'hrnet.onnx'),
                        '--verify-batch-sizes', '1', 'TEST.MODEL_FILE', 'zoo:tiny-mmpose-hrnet'])
    assert code == 0, capsys.readouterr().err
    assert 'exported' in capsys.readouterr().out
