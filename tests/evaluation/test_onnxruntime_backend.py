"""The ONNX Runtime backend: its shared-trunk graph gives PyTorch's heatmaps (within 1e-4 of
their maximum) for λ models with N = 2 and N = 3 and plain HRNet, any batch size and any
instance list, with and without flip test; graphs that do not fit are refused clearly."""
import numpy as np
import pytest
import torch

from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation.inference import MultiInstancePredictor
from mipnet.evaluation.onnxruntime_backend import (OnnxBackendError, OnnxRuntimeModel,
                                                   export_instances_onnx)
from tests.models._helpers import assert_heatmaps_close, random_model

pytest.importorskip('onnxruntime', reason='the onnxruntime backend is an optional extra')
FLIP = get_keypoint_meta('coco').flip_index


@pytest.fixture(scope='module', params=[('pose_hrnet_se_lambda', 2),
                                        ('pose_hrnet_se_lambda', 3), ('pose_hrnet', 2)],
                ids=['lambda-N2', 'lambda-N3', 'plain'])
def exported(request, tmp_path_factory):
    name, n = request.param
    # λ blocks at two places, one of them before stage 3: the trunk ends at stage 2.
    _, model = random_model(n, 'MODEL.SE_MODULES', '[False, True, False, True]', name=name)
    path = tmp_path_factory.mktemp('onnx') / 'model.onnx'
    names = export_instances_onnx(model, str(path), (64, 64))
    return model, OnnxRuntimeModel(str(path)), names


def test_graph_matches_pytorch_for_any_batch_and_instances(exported):
    model, ort_model, names = exported
    n = model.num_instances
    assert names == (['images', 'lambdas'] if model.uses_lambda else ['images'])
    assert (ort_model.uses_lambda, ort_model.num_joints, ort_model.image_size) == \
        (model.uses_lambda, 17, (64, 64))
    assert ort_model.num_instances == (n if model.uses_lambda else 1)
    gen = torch.Generator().manual_seed(2)
    cases = [(1, [0]), (4, list(range(n))), (3, [n - 1, 0])] if model.uses_lambda else \
        [(1, [0]), (4, [0])]
    for batch, instances in cases:
        images = torch.randn(batch, 3, 64, 64, generator=gen)
        with torch.no_grad():
            expected = model(images, instances=instances)
        got = ort_model(images, instances=instances)
        assert got.dtype == torch.float32
        assert_heatmaps_close(got, expected)


@pytest.mark.parametrize('flip', [False, True])
def test_predictor_keypoints_match_pytorch(exported, flip):
    model, ort_model, _ = exported
    instances = list(range(model.num_instances)) if model.uses_lambda else [0]
    kwargs = dict(flip_index=FLIP if flip else None, shift_heatmap=True)
    torch_pred = MultiInstancePredictor(model, instances, **kwargs)
    ort_pred = MultiInstancePredictor(ort_model, instances, **kwargs)
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    expected = torch_pred.heatmaps(images)
    assert_heatmaps_close(ort_pred.heatmaps(images), expected)
    centers, scales = np.full((3, 2), 32.0), np.full((3, 2), 0.4)
    np.testing.assert_allclose(ort_pred(images, centers, scales)[..., 2],
                               torch_pred(images, centers, scales)[..., 2], rtol=0,
                               atol=1e-4 * float(expected.abs().max()))


def test_the_single_instance_graph_is_refused(tmp_path):
    from mipnet.cli.export import export_onnx
    _, model = random_model(2)
    path = tmp_path / 'single.onnx'
    export_onnx(model, str(path), (64, 64))
    with pytest.raises(OnnxBackendError, match='single-instance graph.*--graph instances'):
        OnnxRuntimeModel(str(path))
    with pytest.raises(OnnxBackendError, match='not found'):
        OnnxRuntimeModel(str(tmp_path / 'missing.onnx'))
    (tmp_path / 'bad.onnx').write_bytes(b'not a graph')
    with pytest.raises(OnnxBackendError, match='cannot load'):
        OnnxRuntimeModel(str(tmp_path / 'bad.onnx'))
