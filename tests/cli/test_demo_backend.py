"""tools/demo.py --backend onnxruntime: the poses of the PyTorch backend, from the
checkpoint (exported at start) or from the graph of tools/export_onnx.py --graph instances."""
import json

import numpy as np
import pytest

from mipnet.cli import export
from mipnet.cli.demo import main
from tests.apis._helpers import save_tiny_random_checkpoint
from tests.conftest import REPO

pytest.importorskip('onnxruntime', reason='the onnxruntime backend is an optional extra')
TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
BOXES = ['200,300,200,300', '330,200,240,420']


def test_demo_onnxruntime_backend_gives_the_pytorch_poses(tmp_path, fixtures, capsys):
    ckpt = save_tiny_random_checkpoint(tmp_path / 'tiny.pth')
    graph = tmp_path / 'tiny.onnx'
    assert export.main(['--cfg', TINY, 'TEST.MODEL_FILE', ckpt, '--out', str(graph),
                        '--graph', 'instances']) == 0
    image = str(fixtures / 'ochuman' / '000817.jpg')
    runs = {'pytorch': [], 'onnxruntime': ['--backend', 'onnxruntime'],
            'graph': ['--backend', 'onnxruntime', '--onnx-model', str(graph)]}
    poses = {}
    for name, extra in runs.items():
        out = tmp_path / name
        model = [] if name == 'graph' else ['TEST.MODEL_FILE', ckpt]
        code = main(['--cfg', TINY, *model, '--image', image, '--boxes', *BOXES, '--flip',
                     '--out', str(out), *extra])
        assert code == 0, capsys.readouterr().err
        poses[name] = sorted(json.loads((out / '000817.json').read_text()),
                             key=lambda p: (p['box_index'], p['instance']))
    for name in ('onnxruntime', 'graph'):
        assert len(poses[name]) == len(poses['pytorch']) > 0
        for a, b in zip(poses[name], poses['pytorch']):
            assert (a['box_index'], a['instance']) == (b['box_index'], b['instance'])
            np.testing.assert_allclose(a['keypoints'], b['keypoints'], atol=1e-3)
