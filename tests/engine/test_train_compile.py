"""TRAIN.COMPILE: the compiled training model trains as the eager one (same losses), its
checkpoints hold the network's own state_dict names, and a compiler that fails in the
backward means one warning and eager training from that step on."""
import pytest
import torch
from torch._dynamo.backends.common import aot_autograd

from mipnet.config import load_config
from mipnet.cli.train_test import train_main
from mipnet.models import build_model
from mipnet.utils import compile as compile_mod
from mipnet.utils.checkpoint import extract_state_dict
from tests.engine.conftest import TINY, tiny_opts

RUN_DIR = ('synthetic', 'pose_hrnet_se_lambda', 'tiny_mipnet')


def _train(root, out, *extra):
    return train_main(['--cfg', TINY, *tiny_opts(root, out, 'TRAIN.END_EPOCH', '1',
                                                 'TEST.BATCH_SIZE_PER_GPU', '32', *extra)])


def _failing_backward(gm, example_inputs):
    raise RuntimeError('backward compiler broke')


@pytest.fixture(scope='module')
def eager_losses(synthetic_root, tmp_path_factory):
    return _train(synthetic_root, tmp_path_factory.mktemp('eager'))['epoch_losses']


@pytest.mark.parametrize('backend', ['aot_eager', 'failing backward'])
def test_compiled_training_matches_eager(backend, eager_losses, synthetic_root, tmp_path,
                                         monkeypatch):
    monkeypatch.setattr(compile_mod, 'BACKEND', 'aot_eager' if backend == 'aot_eager' else
                        aot_autograd(fw_compiler=lambda gm, _: gm, bw_compiler=_failing_backward))
    graphs = compile_mod._cache_entries()
    summary = _train(synthetic_root, tmp_path, 'TRAIN.COMPILE', 'True')
    assert compile_mod._cache_entries() > graphs     # the training forward was compiled
    # Training-mode losses use batch statistics, so they equal eager's whichever way ran.
    assert summary['epoch_losses'] == pytest.approx(eager_losses, rel=1e-4)
    log = open(summary['log_file']).read()
    warnings = [line for line in log.splitlines() if 'torch.compile of' in line]
    if backend == 'aot_eager':
        assert warnings == []
    else:
        assert len(warnings) == 1 and 'backward compiler broke' in warnings[0]
        assert 'torch.compile of the training model failed' in warnings[0]
    cfg = load_config(TINY)
    expected = list(build_model(cfg).state_dict())
    run = tmp_path.joinpath('output', *RUN_DIR)
    best = torch.load(run / 'model_best.pth', weights_only=True)
    assert list(extract_state_dict(best, 'model_best.pth')) == expected
    state = torch.load(run / 'checkpoint.pth', weights_only=True)
    assert list(state['state_dict']) == expected
