"""Optimizer and LR-schedule builders of the training loop: parameter groups (λ MLPs
optionally without weight decay), Adam / AdamW / SGD (torch_npu's fused variants on NPU),
MultiStepLR with milestones shifted by ``TRAIN.BEGIN_EPOCH``, and the schedule rebuilt from
the epoch for checkpoints that hold no scheduler state."""
import bisect
import collections

import torch


def param_groups(model, weight_decay, no_decay_lambda=False):
    """Optimizer parameter groups: all trainable parameters with ``weight_decay``; with
    ``no_decay_lambda`` those of the λ MLPs (``fc_lambda``) in a second group without."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if no_decay_lambda and '.fc_lambda.' in name else decay).append(p)
    groups = [{'params': decay, 'weight_decay': weight_decay}]
    if no_decay:
        groups.append({'params': no_decay, 'weight_decay': 0.0})
    return groups


def effective_weight_decay(cfg):
    """Weight decay the optimizer gets: ``TRAIN.WD`` for SGD and AdamW; for Adam 0 unless
    ``TRAIN.ADAM_WD`` (the reference's get_optimizer gives Adam no weight decay)."""
    if cfg.TRAIN.OPTIMIZER == 'adam' and not cfg.TRAIN.ADAM_WD:
        return 0.0
    return float(cfg.TRAIN.WD)


def build_optimizer(cfg, model, device):
    """Adam / AdamW / SGD from ``TRAIN.*``; torch_npu's fused variants on NPU when present."""
    name, lr, wd = cfg.TRAIN.OPTIMIZER, cfg.TRAIN.LR, effective_weight_decay(cfg)
    params = param_groups(model, wd, cfg.TRAIN.NO_WD_LAMBDA)
    if device.type == 'npu':
        import torch_npu
        fused = getattr(torch_npu.optim, {'adam': 'NpuFusedAdam', 'adamw': 'NpuFusedAdamW',
                                          'sgd': 'NpuFusedSGD'}[name], None)
        if fused is not None:
            kwargs = dict(momentum=cfg.TRAIN.MOMENTUM, nesterov=cfg.TRAIN.NESTEROV) \
                if name == 'sgd' else {}
            return fused(params, lr=lr, weight_decay=wd, **kwargs)
    if name == 'sgd':
        return torch.optim.SGD(params, lr=lr, momentum=cfg.TRAIN.MOMENTUM, weight_decay=wd,
                               nesterov=cfg.TRAIN.NESTEROV)
    opt = torch.optim.AdamW if name == 'adamw' else torch.optim.Adam
    return opt(params, lr=lr, weight_decay=wd)


def shifted_milestones(lr_steps, begin_epoch):
    """LR milestones of a run that starts at ``begin_epoch`` without resuming, counted from
    that epoch: the reference (train_lambda_real.py) subtracts BEGIN_EPOCH from every step and
    drops the negative ones, so the LR starts at TRAIN.LR."""
    return [s - begin_epoch for s in lr_steps if s - begin_epoch >= 0]


def build_scheduler(cfg, optimizer):
    """MultiStepLR stepped once per epoch, milestones shifted by ``TRAIN.BEGIN_EPOCH``."""
    return torch.optim.lr_scheduler.MultiStepLR(
        optimizer, shifted_milestones(list(cfg.TRAIN.LR_STEP), cfg.TRAIN.BEGIN_EPOCH),
        cfg.TRAIN.LR_FACTOR)


def rebuild_schedule(cfg, optimizer, scheduler, epoch):
    """Put ``scheduler`` (and the optimizer's LR) where an uninterrupted run stands after
    ``epoch`` epochs: for checkpoints without a scheduler state (reference / Ascend ones)."""
    milestones = sorted(cfg.TRAIN.LR_STEP)
    lr = cfg.TRAIN.LR * cfg.TRAIN.LR_FACTOR ** bisect.bisect_right(milestones, epoch)
    for group in optimizer.param_groups:
        group['initial_lr'] = cfg.TRAIN.LR
        group['lr'] = lr
    scheduler.milestones = collections.Counter(milestones)
    scheduler.last_epoch = epoch
    scheduler._last_lr = [lr] * len(optimizer.param_groups)
