"""Optimizer construction: Adam undecayed as in the reference (TRAIN.ADAM_WD opts in), weight
decay on and off the λ MLPs (TRAIN.NO_WD_LAMBDA)."""
import pytest
import torch

from mipnet.config import load_config
from mipnet.engine.optim import build_optimizer
from mipnet.models import build_model
from tests.engine.conftest import TINY


def _zero_grad_step(no_wd_lambda, optimizer='adam', adam_wd=True):
    """One optimizer step with every gradient zero: only weight decay moves weights."""
    cfg = load_config(TINY, ['TRAIN.NO_WD_LAMBDA', str(no_wd_lambda), 'TRAIN.WD', '0.01',
                             'TRAIN.OPTIMIZER', optimizer, 'TRAIN.ADAM_WD', str(adam_wd)])
    torch.manual_seed(0)
    model = build_model(cfg)
    opt = build_optimizer(cfg, model, torch.device('cpu'))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    moved = {n: not torch.equal(before[n], p) for n, p in model.named_parameters()}
    return opt, moved


@pytest.mark.parametrize('optimizer', ['adam', 'adamw', 'sgd'])
def test_no_wd_lambda_exempts_exactly_the_lambda_mlps(optimizer):
    opt, moved = _zero_grad_step(True, optimizer)
    lam = {n for n in moved if '.fc_lambda.' in n}
    weights = {n for n in moved if n.endswith('.weight') and n not in lam}
    assert lam and len(opt.param_groups) == 2
    assert [g['weight_decay'] for g in opt.param_groups] == [0.01, 0.0]
    assert not any(moved[n] for n in lam)  # no gradient, no decay: unchanged
    assert all(moved[n] for n in weights)  # decayed


def test_adam_wd_decays_everything_when_asked():
    opt, moved = _zero_grad_step(False)
    assert len(opt.param_groups) == 1
    assert all(moved[n] for n in moved if '.fc_lambda.' in n and n.endswith('.weight'))


def test_adam_has_no_weight_decay_by_default_like_the_reference():
    # Reference lib/utils/utils.py get_optimizer: optim.Adam(model.parameters(), lr=cfg.TRAIN.LR)
    # (no weight_decay argument, so torch's default 0); TRAIN.WD goes to SGD only.
    cfg = load_config(TINY, ['TRAIN.WD', '0.01'])
    assert cfg.TRAIN.OPTIMIZER == 'adam' and not cfg.TRAIN.ADAM_WD
    opt = build_optimizer(cfg, build_model(cfg), torch.device('cpu'))
    assert isinstance(opt, torch.optim.Adam)
    assert [g['weight_decay'] for g in opt.param_groups] == [0.0]
    _, moved = _zero_grad_step(False, 'adam', adam_wd=False)
    assert not any(moved.values())  # zero gradients and no decay: nothing moves


def test_sgd_keeps_weight_decay_like_the_reference():
    # Reference get_optimizer: optim.SGD(..., weight_decay=cfg.TRAIN.WD, ...).
    opt, _ = _zero_grad_step(False, 'sgd', adam_wd=False)
    assert [g['weight_decay'] for g in opt.param_groups] == [0.01]
