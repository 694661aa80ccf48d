"""PoseInferencer's fast paths end to end on the real fixture images: the shipped defaults
(BatchNorm folded, channels_last) and backend='onnxruntime' give the eager fp32 model's poses,
for λ models with N = 2 and N = 3, with flip test; an ONNX graph that does not fit the config
is one clear error."""
import numpy as np
import pytest
import torch

from mipnet.apis import PoseInferencer
from mipnet.config import ConfigError
from mipnet.evaluation.onnxruntime_backend import OnnxRuntimeModel, export_instances_onnx
from tests.models._helpers import random_model

pytest.importorskip('onnxruntime', reason='the onnxruntime backend is an optional extra')
EAGER = ['TEST.FUSE_BN', 'False', 'TEST.CHANNELS_LAST', 'False', 'TEST.COMPILE', 'False']
BOXES = [[200, 300, 200, 300], [330, 200, 240, 420], [20, 20, 150, 200]]


def _checkpoint(tmp_path, num_instances):
    cfg, model = random_model(num_instances, 'TEST.FLIP_TEST', True, 'DATASET.TEST_DATASET',
                              'ochuman', seed=num_instances)
    path = tmp_path / f'n{num_instances}.pth'
    torch.save(model.state_dict(), path)
    return cfg, model, str(path)


def _poses(inferencer, images):
    out = []
    for result in inferencer(images):
        out.append(sorted(result['poses'], key=lambda p: (p['box_index'], p['instance'])))
    return out


@pytest.mark.parametrize('num_instances', [2, 3])
def test_defaults_and_onnxruntime_give_the_eager_poses(fixtures, tmp_path, num_instances):
    cfg, _, ckpt = _checkpoint(tmp_path, num_instances)
    images = [str(fixtures / 'ochuman' / f) for f in ('000817.jpg', '003799.jpg')]
    options = {'detector': 'file', 'detector_options': {'boxes': BOXES}, 'batch_size': 4}
    eager_cfg = cfg.clone()
    eager_cfg.defrost()
    eager_cfg.merge_from_list(EAGER)
    eager = PoseInferencer(eager_cfg, ckpt, **options)
    assert eager.predictor.model is eager.model
    expected = _poses(eager, images)
    assert sum(map(len, expected)) >= len(BOXES) * len(images)
    for backend in ('pytorch', 'onnxruntime'):
        fast = PoseInferencer(cfg, ckpt, backend=backend, **options)
        assert fast.predictor.flip_index is not None and fast.backend == backend
        assert fast.instances == list(range(num_instances))
        if backend == 'onnxruntime':
            assert isinstance(fast.predictor.model, OnnxRuntimeModel)
        got = _poses(fast, images)
        for mine, ref in zip(got, expected):
            assert [(p['box_index'], p['instance']) for p in mine] == \
                [(p['box_index'], p['instance']) for p in ref]
            for a, b in zip(mine, ref):
                np.testing.assert_allclose(a['keypoints'], b['keypoints'], atol=1e-3)
                assert a['score'] == pytest.approx(b['score'], abs=1e-4)


def test_onnx_file_from_the_exporter_and_graphs_that_do_not_fit(fixtures, tmp_path):
    cfg, model, ckpt = _checkpoint(tmp_path, 2)
    graph = tmp_path / 'n2.onnx'
    export_instances_onnx(model, str(graph), (64, 64))
    options = {'detector': 'file', 'detector_options': {'boxes': BOXES}}
    # The graph alone is enough: no checkpoint is read.
    from_file = PoseInferencer(cfg, backend='onnxruntime', onnx_file=graph, **options)
    assert from_file.model is None
    exported = PoseInferencer(cfg, ckpt, backend='onnxruntime', **options)
    image = str(fixtures / 'ochuman' / '000817.jpg')
    a, b = _poses(from_file, image), _poses(exported, image)
    np.testing.assert_allclose([p['keypoints'] for p in a[0]], [p['keypoints'] for p in b[0]])
    with pytest.raises(ConfigError, match=r'instances \(MODEL.NUM_INSTANCES\): 2 in the '
                                          r'graph, 3 in the config'):
        PoseInferencer(random_model(3, 'DATASET.TEST_DATASET', 'ochuman')[0],
                       backend='onnxruntime', onnx_file=graph, **options)
    with pytest.raises(ConfigError, match=r'input size \(width, height\): \(64, 64\) in the '
                                          r'graph, \(64, 96\) in the config'):
        PoseInferencer(random_model(2, 'DATASET.TEST_DATASET', 'ochuman', 'MODEL.IMAGE_SIZE',
                                    '[64, 96]', 'MODEL.HEATMAP_SIZE', '[16, 24]')[0],
                       backend='onnxruntime', onnx_file=graph, **options)
    with pytest.raises(ConfigError, match="backend 'tensorrt': valid are pytorch, onnxruntime"):
        PoseInferencer(cfg, ckpt, backend='tensorrt')
    with pytest.raises(ConfigError, match='not found'):
        PoseInferencer(cfg, backend='onnxruntime', onnx_file=tmp_path / 'none.onnx')
