"""CompiledModule (TEST.COMPILE, TRAIN.COMPILE): a failing compiler means one warning and the
eager module's outputs; the wrapper adds nothing to the state_dict; inductor itself gives
the eager heatmaps of a λ model within 1e-4 of their maximum (slow: it compiles C++)."""
import logging

import numpy as np
import pytest
import torch

from mipnet.data.metadata import get_keypoint_meta
from mipnet.evaluation.inference import predictor_from_cfg, unwrap
from mipnet.utils.compile import CompiledModule
from tests.models._helpers import assert_heatmaps_close, random_model


def failing_backend(gm, example_inputs):
    raise RuntimeError('no C++ compiler here')


def test_failing_compiler_runs_eagerly_with_one_warning(caplog):
    _, model = random_model(2)
    compiled = CompiledModule(model, 'inference model', backend=failing_backend)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger='mipnet.utils.compile'):
        expected = model(images, instances=[0, 1])
        first = compiled(images, instances=[0, 1])
        second = compiled(torch.randn(3, 3, 64, 64), instances=[1])
    assert torch.equal(first, expected) and second.shape == (3, 1, 17, 16, 16)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert 'torch.compile of the inference model failed' in warnings[0].getMessage()
    assert 'no C++ compiler here' in warnings[0].getMessage()
    assert not compiled.compiled and 'no C++ compiler here' in compiled.error


def test_wrapper_keeps_the_module_state_dict_and_mode():
    _, model = random_model(2)
    compiled = CompiledModule(model, backend='eager')
    assert unwrap(compiled) is model
    assert list(compiled.module.state_dict()) == list(model.state_dict())
    assert not any('_orig_mod' in k for k in compiled.state_dict())
    compiled.train()
    assert model.training
    compiled.eval()
    assert not model.training


def test_user_errors_are_not_taken_for_compile_failures():
    _, model = random_model(2)
    compiled = CompiledModule(model, backend='eager')
    with pytest.raises(ValueError, match='needs lambda_vec'):
        compiled(torch.randn(1, 3, 64, 64))
    assert compiled.compiled


@pytest.mark.slow
@pytest.mark.parametrize('num_instances', [2, 3])
def test_inductor_gives_the_eager_heatmaps_with_flip(num_instances):
    cfg, model = random_model(num_instances, 'TEST.FLIP_TEST', True, 'TEST.COMPILE', True)
    eager_cfg, _ = random_model(num_instances, 'TEST.FLIP_TEST', True, 'TEST.FUSE_BN', False,
                                'TEST.CHANNELS_LAST', False)
    flip = get_keypoint_meta('coco').flip_index
    images = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    fast = predictor_from_cfg(cfg, model, flip)
    assert isinstance(fast.model, CompiledModule)
    expected = predictor_from_cfg(eager_cfg, model, flip).heatmaps(images)
    assert_heatmaps_close(fast.heatmaps(images), expected)
    assert fast.model.compiled, fast.model.error
    assert fast.model.compile_seconds > 0
    # A smaller batch (the last of a set) is padded to the batch size: no new compile.
    assert fast.pad_batch == cfg.TEST.BATCH_SIZE_PER_GPU
    seconds = fast.model.compile_seconds
    fewer = torch.randn(3, 3, 64, 64)
    assert_heatmaps_close(fast.heatmaps(fewer),
                          predictor_from_cfg(eager_cfg, model, flip).heatmaps(fewer))
    assert fast.model.compiled and fast.model.compile_seconds == seconds
    np.testing.assert_equal(fast.instances, list(range(num_instances)))
