"""Batched images and targets (BatchMaker) against the per-sample path they replace."""
import importlib.util
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mipnet.data import BatchMaker, build_dataset
from mipnet.data.targets import HeatmapMaker, normalize_crops

from tests.conftest import REPO


@pytest.fixture(scope='module')
def legacy():
    """benchmarks/benchmark_data.py: keeps the pre-batching per-sample code to compare with."""
    spec = importlib.util.spec_from_file_location('benchmark_data',
                                                  REPO / 'benchmarks' / 'benchmark_data.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed(seed):
    np.random.seed(seed)
    random.seed(seed)


# Full augmentation (scale, rotation, half body, flip) and per-joint weights.
AUGMENT = ('DATASET.FLIP', True, 'DATASET.SCALE_FACTOR', 0.35, 'DATASET.ROT_FACTOR', 45,
           'DATASET.PROB_HALF_BODY', 0.5, 'DATASET.COLOR_RGB', True,
           'LOSS.USE_DIFFERENT_JOINTS_WEIGHT', True)


@pytest.mark.parametrize('name', ['coco', 'crowdpose'])
def test_batched_path_equals_per_sample_path(name, fixture_cfg, legacy):
    cfg = fixture_cfg(name, *AUGMENT)
    crops = build_dataset(cfg, True, device_targets=True)
    assert crops.joint_weights is not None
    items = build_dataset(cfg, True)
    per_sample = legacy.PerSampleDataset(crops)
    maker = BatchMaker.for_dataset(crops)
    n = len(crops)
    for seed in range(3):
        _seed(seed)
        old = next(iter(DataLoader(per_sample, batch_size=n)))
        _seed(seed)
        crop_batch = next(iter(DataLoader(crops, batch_size=n)))
        assert crop_batch[0].dtype == torch.uint8
        assert crop_batch[0].shape == (n, 64, 64, 3)
        new = maker(crop_batch)
        _seed(seed)
        cpu_items = next(iter(DataLoader(items, batch_size=n)))
        for a, b, c in zip(old[:3], new[:3], cpu_items[:3]):
            assert a.dtype == b.dtype == c.dtype == torch.float32 and a.shape == b.shape
            assert torch.equal(a, b) and torch.equal(a, c)
        assert new[1].sum() > 0 and (new[2] > 0).any() and (new[2] == 0).any()
        np.testing.assert_array_equal(new[3]['joints'], old[3]['joints'])


@pytest.mark.parametrize('sigma', [1, 1.5, 2, 2.5, 3])
def test_heatmap_maker_equals_numpy_targets_bit_for_bit(sigma, legacy):
    rng = np.random.default_rng(int(sigma * 10))
    joints = rng.uniform(-40, 230, size=(4, 3, 17, 3)).astype(np.float32)   # (B, N, J, 3)
    vis = (rng.uniform(size=(4, 3, 17, 3)) > 0.2).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, size=17).astype(np.float32)
    maker = HeatmapMaker((192, 256), (48, 64), sigma, weights)
    target, weight = maker(torch.from_numpy(joints), torch.from_numpy(vis))
    assert target.shape == (4, 3, 17, 64, 48) and weight.shape == (4, 3, 17, 1)
    for b in range(4):
        ref_t, ref_w = legacy.legacy_heatmaps(joints[b], vis[b], (192, 256), (48, 64), sigma,
                                              weights)
        np.testing.assert_array_equal(target[b].numpy(), ref_t)
        np.testing.assert_array_equal(weight[b].numpy(), ref_w)
    # Some joints fall off the grid (weight 0, empty map), most are drawn with peak 1.
    assert (weight == 0).any() and (target.amax(dim=(-2, -1)) == 1).any()


def test_normalize_crops_layouts_and_channel_order():
    crops = torch.randint(0, 256, (2, 5, 7, 3), dtype=torch.uint8)
    rgb = normalize_crops(crops, True)
    last = normalize_crops(crops, True, channels_last=True)
    bgr = normalize_crops(crops, False)
    assert rgb.shape == (2, 3, 5, 7) and rgb.is_contiguous()
    assert last.is_contiguous(memory_format=torch.channels_last) and torch.equal(last, rgb)
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    expected = (crops.permute(0, 3, 1, 2).flip(1).float() / 255 - mean) / std
    torch.testing.assert_close(rgb, expected, rtol=0, atol=1e-5)
    # BGR order: channel index c holds crop channel c (statistics still per index).
    torch.testing.assert_close(bgr, (crops.permute(0, 3, 1, 2).float() / 255 - mean) / std,
                               rtol=0, atol=1e-5)


def test_heatmap_maker_rejects_mismatched_visibility():
    maker = HeatmapMaker((64, 64), (16, 16), 2)
    with pytest.raises(ValueError, match='do not match'):
        maker(torch.zeros(2, 17, 3), torch.zeros(2, 16))
