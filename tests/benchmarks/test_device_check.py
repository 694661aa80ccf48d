"""benchmarks/device_check.py in its dry mode (CPU, tiny config): the whole measurement
matrix, the CUDA-marked tests (skipped here), the table and the JSON file."""
import json
import re
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

SCRIPT = REPO / 'benchmarks' / 'device_check.py'


def test_dry_run_measures_the_matrix_and_writes_json(tmp_path):
    out = tmp_path / 'check.json'
    proc = subprocess.run([sys.executable, str(SCRIPT), '--dry-run', '--batches', '1',
                           '--tests', 'tests/engine/test_cuda.py', '--out', str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result['dry_run'] is True and result['device'].startswith('CPU')
    tests = result['tests']
    assert tests['status'] == 'passed' and '-m cuda' in tests['command']
    if not torch.cuda.is_available():
        assert tests['counts'] == {'skipped': 3}
    rows = result['rows']
    # 2 models x (fp32 training with channels_last off/on, fp16 and bf16 training with it
    # on, 3 precisions inference + fp32 inference without channels_last + 3 fast paths)
    assert len(rows) == 22
    fast = {('infer fuse_bn', 'fp32', True), ('infer compile', 'fp32', True),
            ('infer onnxruntime', 'fp32', False), ('infer', 'fp32', False)}
    assert {(r['model'], r['kind'], r['precision'], r['channels_last']) for r in rows} == {
        (m, k, p, cl) for m in ('mipnet', 'hrnet') for p in ('fp32', 'fp16', 'bf16')
        for k, cl in (('train', True), ('infer', True))} | {
        (m, 'train', 'fp32', False) for m in ('mipnet', 'hrnet')} | {
        (m, *row) for m in ('mipnet', 'hrnet') for row in fast}
    for r in rows:
        assert r['status'] == 'ok' and r['boxes_s'] > 0 and r['config'] == 'tiny', r
        assert r['kind'].startswith('infer') or r['finite_loss'], r
        assert ('setup_s' in r) == (r['kind'] in ('infer fuse_bn', 'infer compile',
                                                  'infer onnxruntime')), r
    assert {r['provider'] for r in rows if r['kind'] == 'infer onnxruntime'} == \
        {'CPUExecutionProvider'}
    assert '| tiny | mipnet | train | on | 1 |' in proc.stdout
    assert '| tiny | mipnet | infer compile | on | 1 |' in proc.stdout
    assert 'set-up of tiny mipnet infer onnxruntime' in proc.stdout
    assert 'DRY RUN' in proc.stdout and f'JSON written to {out}' in proc.stdout
    data = result['data_pipeline']
    assert data['status'] == 'ok' and '--device cpu' in data['command'], data
    assert 'max |diff| images 0, targets 0, weights 0' in data['output']
    assert re.search(r'^fixtures/coco +0 +[\d.]+ +[\d.]+ +[\d.]+ ', data['output'], re.M)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message shown without a GPU')
def test_without_gpu_or_dry_run_says_what_to_do(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), '--tests', '--out',
                           str(tmp_path / 'x.json')], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert 'no CUDA GPU is visible' in proc.stderr and '--dry-run' in proc.stderr
    assert not (tmp_path / 'x.json').exists()
