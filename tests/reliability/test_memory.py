"""Evaluation keeps decoded keypoints only, never heatmaps: peak memory of
``run_inference`` does not grow with the number of boxes times the heatmap size.

A stub network with large (64 x 64) heatmaps and no real compute makes the difference
obvious in a second: keeping the heatmaps of 512 boxes would add 272 MiB. The same
measurement with a predictor that does keep them (the counterfactual) must see that, so the
test cannot pass by measuring nothing. benchmarks/benchmark_memory.py does the same with the
real tiny model and 10k boxes.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mipnet.engine.evaluate import run_inference
from mipnet.evaluation.inference import MultiInstancePredictor

BOXES, K, J, HM, BATCH = 512, 2, 17, 64, 8
MIB = 1024 ** 2


class StubNet(nn.Module):
    uses_lambda = True
    num_instances = K

    def forward(self, images, lam=None, instances=None, shared_trunk=True):
        b = images.shape[0]
        out = torch.zeros(b, len(instances), J, HM, HM)
        out[..., HM // 2, HM // 3] = 1.0
        return out


class Boxes(Dataset):
    def __len__(self):
        return BOXES

    def __getitem__(self, i):
        meta = {'center': np.array([50.0, 60.0], dtype=np.float32),
                'scale': np.array([1.0, 1.0], dtype=np.float32), 'score': 1.0, 'image_id': i,
                'index': i}
        return torch.zeros(3, 8, 8), torch.zeros(0), torch.zeros(0), meta


class Keeping:
    """Counterfactual predictor: also keeps every heatmap."""

    def __init__(self, inner):
        self.inner, self.model, self.kept = inner, inner.model, []

    def __call__(self, images, centers, scales):
        heatmaps = self.inner.heatmaps(images)
        self.kept.append(heatmaps)
        return self.inner.keypoints(heatmaps, centers, scales)


def _status(field):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def _peak_growth_mib(predictor):
    loader = DataLoader(Boxes(), batch_size=BATCH)
    run_inference(predictor, DataLoader(Boxes(), batch_size=BATCH, sampler=range(BATCH)),
                  torch.device('cpu'), progress=False)           # warm-up
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')                                              # reset the peak (VmHWM)
    before = _status('VmRSS')
    out = run_inference(predictor, loader, torch.device('cpu'), progress=False)
    return (_status('VmHWM') - before) * 1024 / MIB, out


def _predictor():
    return MultiInstancePredictor(StubNet().eval(), range(K), flip_index=np.arange(J),
                                  post_process='quarter')


def measure():
    """Peak RSS growth (MiB) of the real evaluation path and of the counterfactual, as JSON
    on stdout. Runs in a fresh process: in a long pytest process, heap pages freed by earlier
    tests would absorb kept heatmaps without any RSS growth."""
    growth, out = _peak_growth_mib(_predictor())
    growth_keeping, _ = _peak_growth_mib(Keeping(_predictor()))
    print(json.dumps({'growth': growth, 'growth_keeping': growth_keeping,
                      'keypoints_shape': list(out['keypoints'].shape),
                      'max_ndim': max(v.ndim for v in out.values()),
                      'max_nbytes': max(v.nbytes for v in out.values())}))


def test_evaluation_keeps_keypoints_not_heatmaps():
    try:
        open('/proc/self/clear_refs', 'w').close()
    except OSError:
        pytest.skip('peak RSS reset needs Linux /proc/self/clear_refs')
    res = subprocess.run([sys.executable, __file__], capture_output=True, text=True,
                         timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert res.returncode == 0, res.stderr[-2000:]
    m = json.loads(res.stdout.strip().splitlines()[-1])
    all_heatmaps = BOXES * K * J * HM * HM * 4 / MIB
    assert m['keypoints_shape'] == [BOXES, K, J, 3]
    assert m['max_ndim'] <= 4 and m['max_nbytes'] < 1 * MIB
    # one batch in flight (with flip: 2 x 8 x 2 x 17 x 64 x 64 floats ~ 9 MiB, a few copies)
    assert m['growth'] < all_heatmaps / 4, (m, all_heatmaps)
    assert m['growth_keeping'] > all_heatmaps * 0.6, 'the measurement does not see kept heatmaps'


if __name__ == '__main__':
    measure()
