"""tools/export_onnx.py: the λ model in ONNX (torch.export-based exporter) equals PyTorch at
two batch sizes."""
import sys
import warnings

import numpy as np
import pytest
import torch

from mipnet.config import load_config
from mipnet.cli import export
from mipnet.models import build_model
from tests.conftest import REPO

ort = pytest.importorskip('onnxruntime', reason='optional extra: pip install -e .[onnx]')
pytest.importorskip('onnx', reason='optional extra: pip install -e .[onnx]')
pytest.importorskip('onnxscript', reason='optional extra: pip install -e .[onnx]')

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
TINY_HRNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_hrnet.yaml')


def test_export_lambda_model_dynamic_batch(tmp_path, capsys):
    path = tmp_path / 'tiny.onnx'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        code = export.main(['--cfg', TINY, '--out', str(path), '--random-weights',
                            '--verify-batch-sizes', '2'])
    out, err = capsys.readouterr()
    assert code == 0
    assert 'lambda_vec (B, 2)' in out and 'max abs difference' in out and 'opset 18' in out
    # The current exporter: no deprecation of the TorchScript-based one, no exporter noise.
    assert not [w for w in caught if issubclass(w.category, (DeprecationWarning,
                                                              FutureWarning))], \
        [str(w.message) for w in caught]
    assert 'torchvision' not in err and '[torch.onnx]' not in out

    # Same weights as the CLI (seed 0, no training init), checked here independently.
    torch.manual_seed(0)
    net = build_model(load_config(TINY)).eval()
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    inputs = session.get_inputs()
    assert [i.name for i in inputs] == ['images', 'lambda_vec']
    assert inputs[0].shape[0] == 'batch' and inputs[1].shape == ['batch', 2]
    gen = torch.Generator().manual_seed(1)
    for b in (1, 4):
        images = torch.randn(b, 3, 64, 64, generator=gen)
        lam = torch.nn.functional.one_hot(torch.arange(b) % 2, 2).float()
        with torch.no_grad():
            expected = net(images, lam).numpy()
        got = session.run(None, {'images': images.numpy(), 'lambda_vec': lam.numpy()})[0]
        assert got.shape == (b, 17, 16, 16)
        assert np.abs(got - expected).max() < 1e-4
    # λ is a real input of the graph, not folded into a constant.
    both = session.run(None, {'images': np.repeat(images[:1].numpy(), 2, axis=0),
                              'lambda_vec': np.eye(2, dtype=np.float32)})[0]
    assert np.abs(both[0] - both[1]).max() > 1e-6


def test_export_plain_hrnet_takes_images_only(tmp_path):
    torch.manual_seed(0)
    net = build_model(load_config(TINY_HRNET))
    path = str(tmp_path / 'hrnet.onnx')
    assert export.export_onnx(net, path, (64, 64)) == ['images']
    diffs = export.verify_onnx(net, path, (64, 64), batch_sizes=(1, 3))
    assert set(diffs) == {1, 3} and max(diffs.values()) < 1e-4


def test_export_needs_weights(tmp_path, capsys):
    code = export.main(['--cfg', TINY, '--out', str(tmp_path / 'x.onnx')])
    assert code == 1
    assert capsys.readouterr().err.startswith('error: TEST.MODEL_FILE is empty')


def test_missing_onnx_packages_message(monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(export.ExportError, match=r'onnxscript .*pip install -e \.\[onnx\]'):
        export._require_onnx()


def test_opsets_below_18_are_refused(tmp_path):
    torch.manual_seed(0)
    net = build_model(load_config(TINY_HRNET))
    with pytest.raises(export.ExportError, match='writes opset 18 or later'):
        export.export_onnx(net, str(tmp_path / 'old.onnx'), (64, 64), opset=17)


def test_export_instances_graph_for_the_onnxruntime_backend(tmp_path, capsys):
    from mipnet.evaluation.onnxruntime_backend import OnnxRuntimeModel
    path = tmp_path / 'instances.onnx'
    code = export.main(['--cfg', TINY, '--out', str(path), '--random-weights', '--graph',
                        'instances', '--verify-batch-sizes', '1,3', 'MODEL.NUM_INSTANCES', '3'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert 'lambdas (K, 3) -> heatmaps (B, K, 17, 16, 16)' in out
    assert '(batch 1)' in out and '(batch 3)' in out
    model = OnnxRuntimeModel(str(path))
    assert model.uses_lambda and model.num_instances == 3
    torch.manual_seed(0)
    net = build_model(load_config(TINY, ['MODEL.NUM_INSTANCES', '3'])).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = net(images, instances=[2, 0])
    np.testing.assert_allclose(model(images, [2, 0]).numpy(), expected.numpy(), atol=1e-5)
