"""Inference fast paths through the predictor (TEST.FUSE_BN, TEST.CHANNELS_LAST, ONNX
Runtime): the eager fp32 heatmaps within 1e-4 of their maximum, for λ models with N = 2 and
N = 3 and plain HRNet, with and without flip test; the model itself is left unchanged."""
import logging

import numpy as np
import pytest
import torch

from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation.inference import inference_model, predictor_from_cfg, unwrap
from mipnet.models.fusion import count_batchnorms
from tests.models._helpers import assert_heatmaps_close, random_model

FLIP = get_keypoint_meta('coco').flip_index
EAGER = ['TEST.FUSE_BN', 'False', 'TEST.CHANNELS_LAST', 'False', 'TEST.COMPILE', 'False']
FAST_KEYS = {
    'fuse_bn': ['TEST.FUSE_BN', 'True'],
    'channels_last': ['TEST.CHANNELS_LAST', 'True'],
    'fuse_bn+channels_last': ['TEST.FUSE_BN', 'True', 'TEST.CHANNELS_LAST', 'True'],
}


def _images(b=3, seed=1):
    return torch.randn(b, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _with(cfg, opts):
    cfg = cfg.clone()
    cfg.defrost()
    cfg.merge_from_list(opts)
    cfg.freeze()
    return cfg


@pytest.mark.parametrize('name,num_instances', [('pose_hrnet_se_lambda', 2),
                                                ('pose_hrnet_se_lambda', 3),
                                                ('pose_hrnet', 2)])
@pytest.mark.parametrize('flip', [False, True])
def test_every_fast_path_gives_the_eager_heatmaps(name, num_instances, flip):
    cfg, model = random_model(num_instances, 'TEST.FLIP_TEST', flip, 'TEST.SHIFT_HEATMAP',
                              True, name=name)
    images = _images()
    eager = predictor_from_cfg(_with(cfg, EAGER), model, FLIP)
    assert eager.model is model
    expected = eager.heatmaps(images)
    k = num_instances if name == 'pose_hrnet_se_lambda' else 1
    assert expected.shape == (3, k, 17, 16, 16)
    for label, opts in FAST_KEYS.items():
        fast = predictor_from_cfg(_with(cfg, opts), model, FLIP)
        assert fast.model is not model, label
        assert_heatmaps_close(fast.heatmaps(images), expected)
        centers, scales = np.full((3, 2), 32.0), np.full((3, 2), 0.4)
        np.testing.assert_allclose(fast(images, centers, scales)[..., 2],
                                   eager(images, centers, scales)[..., 2], rtol=0, atol=1e-4 *
                                   float(expected.abs().max()))


def test_fast_paths_leave_the_model_alone(caplog):
    cfg, model = random_model(2, 'TEST.FUSE_BN', True, 'TEST.CHANNELS_LAST', True)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with caplog.at_level(logging.INFO, logger='mipnet.evaluation.inference'):
        run, channels_last = inference_model(cfg, model)
    assert 'inference: BatchNorm folded, channels_last' in caplog.text
    assert channels_last and not run.training and model.training
    assert count_batchnorms(run) == 0 and count_batchnorms(model) > 0
    assert run.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.conv1.weight.is_contiguous()
    after = model.state_dict()
    assert list(after) == list(before) and all(torch.equal(after[k], before[k]) for k in before)
    # Nothing asked: the model itself runs.
    assert inference_model(_with(cfg, EAGER), model) == (model, False)


def test_defaults_fold_batchnorm_and_use_channels_last_on_the_cpu():
    cfg, model = random_model(2)
    assert cfg.TEST.FUSE_BN and cfg.TEST.CHANNELS_LAST and not cfg.TEST.COMPILE
    run, channels_last = inference_model(cfg, model)
    assert channels_last and count_batchnorms(run) == 0
    # Accelerators follow MODEL.CHANNELS_LAST (off by default), not TEST.CHANNELS_LAST.
    from mipnet.evaluation.inference import _channels_last
    assert _channels_last(cfg, 'cpu') and not _channels_last(cfg, 'cuda')


def test_unwrap_reaches_the_network_through_nested_wrappers():
    _, model = random_model(2)
    outer = torch.nn.Module()
    outer.module = torch.nn.Module()
    outer.module.module = model
    assert unwrap(outer) is model and unwrap(model) is model


@pytest.mark.parametrize('flip', [False, True])
def test_padded_batches_give_the_same_heatmaps(flip):
    from mipnet.evaluation.inference import MultiInstancePredictor
    _, model = random_model(3)
    images = _images(3)
    kwargs = dict(flip_index=FLIP if flip else None, shift_heatmap=True)
    expected = MultiInstancePredictor(model, [0, 1, 2], **kwargs).heatmaps(images)
    padded = MultiInstancePredictor(model, [0, 1, 2], pad_batch=5, **kwargs)
    calls = []
    padded.model = lambda batch, **kw: calls.append(batch.shape[0]) or model(batch, **kw)
    assert_heatmaps_close(padded.heatmaps(images), expected, rel=1e-6)
    assert calls == [10 if flip else 5]
    assert padded.heatmaps(_images(6)).shape[0] == 6     # larger batches are not cut
