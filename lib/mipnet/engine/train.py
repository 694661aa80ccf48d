"""The training loop: λ training over all instances of every box, AMP through one code path,
DDP, checkpoints with exact resume, validation per ``EPOCH_EVAL_FREQ``.

Reproducibility: at the start of every epoch the Python, NumPy and torch generators are
re-seeded from (SEED, epoch, rank), the sampler's order depends only on (SEED, epoch), and
data workers derive their seeds from the loader generator seeded the same way. A resumed run
therefore replays exactly the epochs an uninterrupted run would.
"""
import logging
import math
import os
import random
import time

import numpy as np
import torch

from mipnet.config import ConfigError, log_root, run_log_dir, run_output_dir
from mipnet.data import BatchMaker, build_dataset, build_loader
from mipnet.engine import preflight
from mipnet.engine.batch import describe_run, plan_batch, precision_name
from mipnet.engine.evaluate import main_metric, validate
from mipnet.engine.hooks import Hook, call_hooks
from mipnet.evaluation.inference import autocast_dtype, instance_heatmaps, unwrap
from mipnet.engine.optim import build_optimizer, build_scheduler, rebuild_schedule
from mipnet.engine.teacher import AlongsideTeacher
from mipnet.evaluation.pck import heatmap_accuracy
from mipnet.losses import build_criterion, multi_instance_loss
from mipnet.models import build_model, init_from_checkpoint, load_weights, model_meta
from mipnet.utils import dist
from mipnet.utils.checkpoint import (META_KEY, CheckpointError, check_compatible, check_meta,
                                     extract_state_dict, load_file, read_meta, reconcile_best,
                                     remove_partial_saves, save_atomic, state_dict_digest,
                                     with_meta)
from mipnet.utils.compile import CompiledModule
from mipnet.utils.logging import AverageMeter, setup_logging
from mipnet.utils.progress import Progress

logger = logging.getLogger(__name__)

# Steady-state speed in performance mode skips this many warm-up steps.
WARMUP_STEPS = 5
# With float16 AMP the GradScaler skips non-finite steps; this many in a row is a dead run.
MAX_SKIPPED_STEPS = 20


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or Inf."""


def seed_everything(seed):
    """Seed Python, NumPy and torch generators."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def epoch_seed(cfg, epoch, rank):
    """Seed of one epoch on one rank; independent of whether the run was resumed."""
    return cfg.SEED * 1_000_003 + epoch * 1009 + rank


def validation_due(epoch, freq, last_epoch):
    """Whether epoch ``epoch`` (0-based) ends with a validation: when ``epoch % freq == 0``,
    as the reference's training scripts decide (epochs 0, freq, 2 freq, ...), and always
    after the last epoch. ``freq <= 0`` validates after the last epoch only."""
    return epoch == last_epoch or (freq > 0 and epoch % freq == 0)


def compute_loss(cfg, model, criterion, images, target, target_weight, teacher=None):
    """Forward and loss of one batch.

    λ models: every box on all N instances; instance k's heatmaps against instance k's
    target; mean over the B*N expanded samples, or weighted per instance by
    ``LOSS.INSTANCE_WEIGHTS``. Plain HRNet: instance 0 only. With an
    :class:`mipnet.engine.teacher.AlongsideTeacher` the objective adds the teacher's own
    loss and ``LOSS.TEACHER_WEIGHT`` times the distillation of instance 0 towards it.

    Args:
        images: (B, 3, H, W); target: (B, N, J, h, w); target_weight: (B, N, J, 1).

    Returns:
        (loss scalar float32, output (B, K, J, h, w) detached float32 for logging).
    """
    net = unwrap(model)
    if net.uses_lambda:
        output = instance_heatmaps(model, images, range(net.num_instances),
                                   cfg.MODEL.SHARED_TRUNK)
        loss = multi_instance_loss(criterion, output, target, target_weight,
                                   list(cfg.LOSS.INSTANCE_WEIGHTS) or None)
        if teacher is not None:
            own, distill = teacher.losses(images, target, target_weight, output[:, 0])
            loss = loss + own + teacher.weight * distill
    else:
        output = model(images).unsqueeze(1)
        loss = criterion(output[:, 0], target[:, 0], target_weight[:, 0])
    return loss, output.detach()


class Trainer:
    """State of one training run; :meth:`fit` runs it, calling ``hooks``
    (:class:`mipnet.engine.hooks.Hook` objects) at its extension points."""

    def __init__(self, cfg, cfg_file, resume_file=None, finetune_file=None, local_rank=None,
                 output_root=None, hooks=()):
        self.hooks = list(hooks)
        for hook in self.hooks:
            if not isinstance(hook, Hook):
                raise TypeError(f'training hooks must be mipnet.engine.hooks.Hook objects, '
                                f'got {type(hook).__name__}')
        self.device = dist.setup(cfg.DEVICE, cfg.DIST_TIMEOUT, local_rank)
        self.rank = dist.get_rank()
        self.batch_plan = plan_batch(cfg, dist.get_world_size())
        if self.batch_plan.per_device != cfg.TRAIN.BATCH_SIZE_PER_GPU:
            # The loader, the checkpoint's config and AUTO_RESUME see the per-device batch
            # the run uses.
            cfg = cfg.clone()
            cfg.defrost()
            cfg.TRAIN.BATCH_SIZE_PER_GPU = self.batch_plan.per_device
            cfg.freeze()
        self.cfg = cfg
        self.output_dir = run_output_dir(cfg, cfg_file, output_root)
        self.tensorboard_dir = run_log_dir(cfg, cfg_file, output_root)
        # Before the log file exists: a second run into this folder must not touch it.
        self.lock = preflight.prepare_training(cfg, self.output_dir, log_root(cfg, output_root)) \
            if dist.is_main_process() else None
        self.log_file = setup_logging(self.output_dir, 'train', self.rank)
        if cfg.DETERMINISTIC:
            torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = cfg.CUDNN.BENCHMARK and not cfg.DETERMINISTIC
        torch.backends.cudnn.deterministic = cfg.CUDNN.DETERMINISTIC or cfg.DETERMINISTIC
        torch.backends.cudnn.enabled = cfg.CUDNN.ENABLED
        seed_everything(epoch_seed(cfg, -1, self.rank))
        if dist.is_main_process():
            logger.info('config:\n%s', cfg.dump())
            logger.info('output: %s  device: %s (torch threads %d)  world size: %d',
                        self.output_dir, self.device, torch.get_num_threads(),
                        dist.get_world_size())
            logger.info('run: %s', describe_run(
                self.batch_plan, cfg.TRAIN.LR,
                precision_name(cfg.TRAIN.AMP, self.device.type)))
            if self.batch_plan.note:
                logger.warning('%s', self.batch_plan.note)
            hint = dist.cpu_threads_hint(self.device.type)
            if hint:
                logger.warning('%s', hint)
            for path in remove_partial_saves(self.output_dir):
                logger.warning('removed %s, a partial checkpoint of a run killed while saving',
                               path)

        model = build_model(cfg, is_train=True)
        resume_path, auto_resume = self._resume_source(resume_file)
        start_file = self._start_source(finetune_file, resume_path)
        if finetune_file:
            load_weights(model, cfg, finetune_file)
        elif start_file:
            # A resumed run takes every weight from its checkpoint.
            init_from_checkpoint(model, start_file, cfg)
        model.to(self.device)
        if cfg.MODEL.CHANNELS_LAST and self.device.type != 'cpu':
            model.to(memory_format=torch.channels_last)
        if dist.is_distributed():
            if cfg.SYNC_BN:
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=None if self.device.type == 'cpu' else [self.device])
        self.model = model
        # TRAIN.COMPILE: the forward runs compiled; self.model keeps the parameters that the
        # optimizer, DDP and the checkpoints see.
        self.forward_model = CompiledModule(model, 'training model') if cfg.TRAIN.COMPILE \
            else model
        self.criterion = build_criterion(cfg)
        self.optimizer = build_optimizer(cfg, model, self.device)
        self.teacher = AlongsideTeacher(cfg, self.device) if cfg.LOSS.TEACHER_WEIGHT > 0 \
            else None
        if start_file and start_file == cfg.TEST.MODEL_FILE:
            self._load_start_optimizer(start_file)
        if dist.is_main_process():
            preflight.check_disk_space(self.output_dir, preflight.checkpoint_bytes(
                unwrap(model), cfg.TRAIN.OPTIMIZER, cfg.TRAIN.MOMENTUM))
        self.scheduler = build_scheduler(cfg, self.optimizer)
        self.amp = bool(cfg.TRAIN.AMP)
        # Loss scaling only matters for float16; CPU autocast uses bfloat16.
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=self.amp and self.device.type != 'cpu')
        self.skipped_steps = 0
        self.begin_epoch = cfg.TRAIN.BEGIN_EPOCH
        self.best_perf = -1.0
        # Epoch count of the checkpoint whose weights are model_best.pth, and their digest.
        self.best_epoch, self.best_digest = 0, ''
        self.history = []
        self.writer = self._tensorboard()
        self._resume(resume_path, auto_resume)

        # Workers ship uint8 crops and joints; images and targets are made per batch on the
        # training device (bit-identical to the per-sample CPU items).
        self.train_set = build_dataset(cfg, is_train=True, device_targets=True)
        self.train_loader = build_loader(cfg, self.train_set, True, self.device)
        self.batch_maker = BatchMaker.for_dataset(
            self.train_set, self.device,
            channels_last=cfg.MODEL.CHANNELS_LAST and self.device.type != 'cpu')
        self.valid_loader = None
        if cfg.TRAIN.MAX_STEPS <= 0:
            valid_set = build_dataset(cfg, is_train=False, device_targets=True)
            self.valid_loader = build_loader(cfg, valid_set, False, self.device)
        self.global_step = self.begin_epoch * len(self.train_loader)
        # TRAIN.MAX_STEPS counts the steps of this run, also when it resumed.
        self.start_step = self.global_step

    # ---- checkpoints -------------------------------------------------------------------
    @property
    def checkpoint_path(self):
        return os.path.join(self.output_dir, 'checkpoint.pth')

    def _tensorboard(self):
        if not dist.is_main_process():
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.warning('tensorboard is not installed; scalars are not written')
            return None
        return SummaryWriter(log_dir=self.tensorboard_dir)

    def _start_source(self, finetune_file, resume_path):
        """The checkpoint a fresh run initialises its weights from (not for --pth_path): the
        reference's training script starts from TEST.MODEL_FILE (train_lambda_real.py), which
        therefore wins over TRAIN.INIT_CHECKPOINT; '' when the run resumes or has neither."""
        model_file, init = self.cfg.TEST.MODEL_FILE, self.cfg.TRAIN.INIT_CHECKPOINT
        if finetune_file and model_file:
            raise ConfigError(f'--pth_path {finetune_file} and TEST.MODEL_FILE {model_file} both '
                              'name the weights to start training from; give one of them')
        if resume_path:
            if model_file and dist.is_main_process():
                logger.warning('TEST.MODEL_FILE %s is not read: the run resumes from %s',
                               model_file, resume_path)
            return ''
        if model_file and dist.is_main_process():
            logger.info('TEST.MODEL_FILE %s: training starts from its weights (and its '
                        'optimizer state, when it holds one), as the reference\'s training '
                        'script does%s', model_file,
                        f'; TRAIN.INIT_CHECKPOINT {init} is not read'
                        if init and init != model_file else '')
        return model_file or init

    def _load_start_optimizer(self, path):
        """The optimizer state of the TEST.MODEL_FILE checkpoint, if it has one; the LR
        schedule then starts at its LR (the reference builds its scheduler after loading)."""
        state = load_file(path, map_location=self.device)
        if not isinstance(state, dict) or not isinstance(state.get('optimizer'), dict):
            return
        try:
            self.optimizer.load_state_dict(state['optimizer'])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f'TEST.MODEL_FILE {path}: its optimizer state does not fit '
                                  'the optimizer of this config (TRAIN.OPTIMIZER / '
                                  f'NO_WD_LAMBDA?): {exc}; start from its weights only with '
                                  f'--init_checkpoint {path} instead') from None
        if dist.is_main_process():
            logger.info('=> optimizer state loaded from %s (LR %.3g)', path,
                        self.optimizer.param_groups[0]['lr'])

    def _resume_source(self, resume_file):
        """(checkpoint to resume from or '', whether AUTO_RESUME picked it)."""
        path = resume_file or (self.cfg.TRAIN.CHECKPOINT if self.cfg.TRAIN.RESUME else '')
        if not path and self.cfg.AUTO_RESUME and os.path.isfile(self.checkpoint_path):
            return self.checkpoint_path, True
        return path, False

    def _resume(self, path, auto):
        if not path:
            return
        state = load_file(path, map_location=self.device)
        if not isinstance(state, dict) or 'epoch' not in state or 'optimizer' not in state:
            raise CheckpointError(f'{path} is not a training checkpoint (no epoch / optimizer); '
                                  'use it with TEST.MODEL_FILE, --pth_path or '
                                  'TRAIN.INIT_CHECKPOINT instead')
        if auto:
            preflight.check_auto_resume(self.cfg, path, state)
        preflight.check_resume(self.cfg, state, path)
        check_meta(read_meta(state), model_meta(self.cfg), path)
        net = unwrap(self.model)
        weights = extract_state_dict(state, f'checkpoint {path}')
        check_compatible(net, weights, f'checkpoint {path}')
        net.load_state_dict(weights)
        try:
            self.optimizer.load_state_dict(state['optimizer'])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f'checkpoint {path}: its optimizer state does not fit the '
                                  f'optimizer of this config (TRAIN.OPTIMIZER / '
                                  f'NO_WD_LAMBDA?): {exc}') from None
        self.begin_epoch = int(state['epoch'])
        if 'scheduler' in state:
            self.scheduler.load_state_dict(state['scheduler'])
        else:
            # Reference and Ascend checkpoints hold no scheduler: the LR follows from the epoch.
            rebuild_schedule(self.cfg, self.optimizer, self.scheduler, self.begin_epoch)
        if 'scaler' in state:
            self.scaler.load_state_dict(state['scaler'])
        if self.teacher is not None:
            if 'teacher' not in state:
                raise CheckpointError(f'checkpoint {path} holds no teacher: it was trained '
                                      'without LOSS.TEACHER_WEIGHT; resume with '
                                      'LOSS.TEACHER_WEIGHT 0')
            self.teacher.load_state_dict(state['teacher'], path)
        self.best_perf = float(state.get('perf', -1.0))
        self._resume_best(state, path)
        self.history = [dict(zip(('epoch', 'ap'), map(float, row)))
                        for row in state.get('history', torch.zeros(0, 2)).tolist()]
        if dist.is_main_process():
            banner = '=' * 78
            logger.warning('%s\nRESUMING%s: resumed from %s at epoch %d (END_EPOCH %d, LR %.3g, '
                           'best AP %.4f)%s\n%s',
                           banner, ' (AUTO_RESUME)' if auto else '', path,
                           self.begin_epoch, self.cfg.TRAIN.END_EPOCH,
                           self.optimizer.param_groups[0]['lr'], self.best_perf,
                           '' if 'scheduler' in state else
                           '; no scheduler state in the file, LR schedule rebuilt from the epoch',
                           banner)
        reasons = preflight.inexact_resume_reasons(self.cfg, self.device.type)
        if reasons:
            logger.warning('this resumed run will not replay the uninterrupted run exactly: '
                           '%s. Set DETERMINISTIC true for an exact resume.', '; '.join(reasons))

    def _resume_best(self, state, path):
        """Bring model_best.pth in line with the checkpoint (see reconcile_best)."""
        if not dist.is_main_process():
            return
        best = os.path.join(self.output_dir, 'model_best.pth')
        outcome = reconcile_best(state, best)
        if outcome is None:
            return
        if outcome == 'lost':
            logger.warning('%s is missing or is not the best model recorded in %s (epoch %d, '
                           'AP %.4f): it was removed, replaced or damaged; the best AP restarts '
                           'and the next validation rewrites it', best, path,
                           int(state['best_epoch']), self.best_perf)
            self.best_perf = -1.0
            return
        if outcome == 'restored':
            logger.warning('%s was older than the best model recorded in %s (a run killed '
                           'between the two saves); rewritten from the checkpoint', best, path)
        self.best_epoch, self.best_digest = int(state['best_epoch']), state['best_digest']

    def save(self, epoch, ap):
        """Atomically write checkpoint.pth (and model_best.pth when AP improved); rank 0."""
        if not dist.is_main_process():
            return
        history = torch.tensor([[h['epoch'], h['ap']] for h in self.history],
                               dtype=torch.float64).reshape(-1, 2)
        weights = unwrap(self.model).state_dict()
        improved = ap is not None and ap >= self.best_perf
        if improved:
            self.best_epoch, self.best_digest = epoch + 1, state_dict_digest(weights)
        # The checkpoint records the best model before model_best.pth is written: after a
        # kill between the two, resuming rewrites model_best.pth from the checkpoint.
        state = {
            'epoch': epoch + 1,
            'model': self.cfg.MODEL.NAME,
            'state_dict': weights,
            'optimizer': self.optimizer.state_dict(),
            'scheduler': self.scheduler.state_dict(),
            'scaler': self.scaler.state_dict(),
            'perf': self.best_perf,
            'best_epoch': self.best_epoch,
            'best_digest': self.best_digest,
            'history': history,
            'config': self.cfg.dump(),
            META_KEY: model_meta(self.cfg),
        }
        if self.teacher is not None:
            state['teacher'] = self.teacher.state_dict()
        save_atomic(state, self.checkpoint_path)
        if improved:
            save_atomic(with_meta(weights, model_meta(self.cfg)),
                        os.path.join(self.output_dir, 'model_best.pth'))
        logger.info('=> saved checkpoint %s (epoch %d)', self.checkpoint_path, epoch + 1)

    # ---- one epoch ---------------------------------------------------------------------
    def train_one_epoch(self, epoch):
        cfg, device = self.cfg, self.device
        self.model.train()
        optimizers = [self.optimizer]
        if self.teacher is not None:
            self.teacher.model.train()
            optimizers.append(self.teacher.optimizer)
        loader = self.train_loader
        loader.sampler.set_epoch(epoch)
        loader.generator.manual_seed(epoch_seed(cfg, epoch, self.rank))
        seed_everything(epoch_seed(cfg, epoch, self.rank))
        batch_time, data_time, losses, accs = (AverageMeter() for _ in range(4))
        steady_time, steady_samples = 0.0, 0
        n = len(loader)
        bar = Progress(n, f'epoch {epoch}', unit='steps', enabled=dist.is_main_process(),
                       logger=logger)
        end = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        seen = 0
        for i, batch in enumerate(loader):
            images, target, target_weight, meta = self.batch_maker(batch)
            data_time.update(time.perf_counter() - end)
            loss, output = self._forward_backward(images, target, target_weight, optimizers,
                                                  epoch, i)
            for optimizer in optimizers:
                if cfg.TRAIN.CLIP_GRAD_NORM > 0:
                    self.scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(
                        [p for group in optimizer.param_groups for p in group['params']],
                        cfg.TRAIN.CLIP_GRAD_NORM)
                self.scaler.step(optimizer)
            self.scaler.update()
            loss_sum += loss.detach()
            seen += 1
            self.global_step += 1

            step_time = time.perf_counter() - end
            batch_time.update(step_time)
            if self.global_step - self.start_step > WARMUP_STEPS:
                steady_time += step_time
                steady_samples += images.shape[0]
            bar.update(1)
            last = i == n - 1 or self._max_steps_reached()
            if i % cfg.PRINT_FREQ == 0 or last:
                # The only host syncs of the loop: at logging intervals.
                mean_loss, = dist.all_reduce_mean([(loss_sum / seen).item()], device)
                losses.update(mean_loss, seen)
                loss_sum.zero_()
                seen = 0
                _, acc, cnt = heatmap_accuracy(output[:, 0].float().cpu().numpy(),
                                               target[:, 0].float().cpu().numpy())
                accs.update(acc, cnt)
                speed = images.shape[0] * dist.get_world_size() / batch_time.val
                lr = self.optimizer.param_groups[0]['lr']
                logger.info(
                    'Epoch: [%d][%d/%d]\tTime %.3fs (%.3fs)\tSpeed %.1f samples/s\t'
                    'Data %.3fs (%.3fs)\tLoss %.5f (%.5f)\tAccuracy %.3f (%.3f)\tLR %.6f',
                    epoch, i, n, batch_time.val, batch_time.avg, speed, data_time.val,
                    data_time.avg, mean_loss, losses.avg, acc, accs.avg, lr)
                if self.writer is not None:
                    self.writer.add_scalar('train/loss', mean_loss, self.global_step)
                    self.writer.add_scalar('train/accuracy', acc, self.global_step)
                    self.writer.add_scalar('train/lr', lr, self.global_step)
                if cfg.DEBUG.DEBUG and dist.is_main_process():
                    self._debug_images(images, target, output, meta, epoch, i)
            end = time.perf_counter()
            if self._max_steps_reached():
                break
        bar.close()
        world = dist.get_world_size()
        return {'loss': losses.avg, 'accuracy': accs.avg,
                'steady_samples_per_s': steady_samples * world / steady_time
                if steady_time > 0 else float('nan')}

    def _forward_backward_once(self, images, target, target_weight, optimizers, epoch, step):
        with torch.autocast(self.device.type, dtype=autocast_dtype(self.device.type),
                            enabled=self.amp):
            loss, output = compute_loss(self.cfg, self.forward_model, self.criterion, images,
                                        target, target_weight, self.teacher)
        self._check_finite(loss, epoch, step)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        return loss, output

    def _forward_backward(self, images, target, target_weight, optimizers, epoch, step):
        """Forward, the finite-loss check and backward of one batch: (loss, output).

        With ``TRAIN.COMPILE`` the backward graph compiles at the first backward call; if
        that fails, the step is redone eagerly and training goes on eagerly (one warning).
        A failing forward compilation falls back inside :class:`CompiledModule` itself.
        """
        compiled = self.forward_model
        if isinstance(compiled, CompiledModule) and compiled.compiled:
            try:
                return self._forward_backward_once(images, target, target_weight, optimizers,
                                                   epoch, step)
            except NonFiniteLossError:
                raise
            except Exception as exc:   # the compiled backward: whatever its compiler raised
                # The compiled forward of this step already updated the BatchNorm running
                # statistics once; the eager redo updates them again (this step only).
                compiled.fall_back(exc)
        return self._forward_backward_once(images, target, target_weight, optimizers, epoch,
                                           step)

    def _max_steps_reached(self):
        return 0 < self.cfg.TRAIN.MAX_STEPS <= self.global_step - self.start_step

    def _check_finite(self, loss, epoch, step):
        """Stop on a non-finite loss before the update. With a GradScaler (float16) the
        scaler skips such steps itself, so only a run of MAX_SKIPPED_STEPS in a row stops.

        This is the loop's one per-step host sync; GradScaler.step makes the same one.
        """
        if torch.isfinite(loss).item():
            self.skipped_steps = 0
            return
        self.skipped_steps += 1
        if self.scaler.is_enabled() and self.skipped_steps < MAX_SKIPPED_STEPS:
            logger.warning('non-finite loss at epoch %d, step %d: the GradScaler skips the '
                           'update (%d in a row)', epoch, step, self.skipped_steps)
            return
        last = self.checkpoint_path if os.path.isfile(self.checkpoint_path) else 'none yet'
        raise NonFiniteLossError(
            f'non-finite loss ({loss.item()}) at epoch {epoch}, step {step}'
            f'{f" ({self.skipped_steps} steps in a row)" if self.skipped_steps > 1 else ""}; '
            f'training stopped before the update. Last good checkpoint: {last}. Lower '
            'TRAIN.LR, check the data, or resume from that checkpoint.')

    def _debug_images(self, images, target, output, meta, epoch, step):
        from mipnet.vis import save_debug_images
        prefix = os.path.join(self.output_dir, 'debug', f'train_e{epoch}_s{step}')
        save_debug_images(self.cfg, images, meta, target, output, prefix)

    # ---- the run -----------------------------------------------------------------------
    def fit(self):
        """Train from ``begin_epoch`` to ``TRAIN.END_EPOCH``; returns a summary dict."""
        cfg = self.cfg
        start = time.perf_counter()
        summary = {'output_dir': self.output_dir, 'log_file': self.log_file}
        metrics = None
        epoch_losses = []
        last_epoch = cfg.TRAIN.END_EPOCH - 1
        call_hooks(self.hooks, 'before_train', self)
        for epoch in range(self.begin_epoch, cfg.TRAIN.END_EPOCH):
            stats = self.train_one_epoch(epoch)
            self.scheduler.step()
            if self.teacher is not None:
                self.teacher.scheduler.step()
            summary.update(stats)
            epoch_losses.append(stats['loss'])
            if self._max_steps_reached():
                break
            ap = None
            due = validation_due(epoch, cfg.EPOCH_EVAL_FREQ, last_epoch)
            if due and self.valid_loader is not None:
                metrics = validate(cfg, self.model, self.valid_loader, self.device,
                                   self.output_dir)
                if dist.is_main_process():
                    ap = main_metric(metrics)
                    self.history.append({'epoch': epoch, 'ap': ap})
                    self.best_perf = max(self.best_perf, ap)
                    if self.writer is not None:
                        for mode, values in metrics.items():
                            self.writer.add_scalar(f'valid/AP {mode}', values['AP'], epoch)
                    call_hooks(self.hooks, 'after_validation', self, epoch, metrics)
            self.save(epoch, ap)
            dist.barrier()
            call_hooks(self.hooks, 'after_epoch', self, epoch, stats)
        # A performance run must not replace the final weights of a full run.
        if dist.is_main_process() and cfg.TRAIN.MAX_STEPS <= 0:
            save_atomic(with_meta(unwrap(self.model).state_dict(), model_meta(cfg)),
                        os.path.join(self.output_dir, 'final_state.pth'))
        if self.writer is not None:
            self.writer.close()
        summary.update(metrics=metrics, best_ap=self.best_perf, epoch_losses=epoch_losses,
                       duration_s=time.perf_counter() - start, history=self.history)
        if cfg.TRAIN.MAX_STEPS > 0 and dist.is_main_process():
            steps = self.global_step - self.start_step
            if math.isnan(summary['steady_samples_per_s']):
                # The run's first WARMUP_STEPS steps (start-up, allocator) are left out.
                logger.info('Performance mode: %d steps, no steady-state speed: the first %d '
                            'steps of a run are warm-up and left out of the speed (give '
                            '--max_steps %d or more)', steps, WARMUP_STEPS, WARMUP_STEPS + 1)
            else:
                logger.info('Performance mode: %d steps, steady-state speed %.1f samples/s',
                            steps, summary['steady_samples_per_s'])
        if metrics is not None and dist.is_main_process():
            logger.info('Final AP (merged instances): %.4f  best: %.4f',
                        main_metric(metrics), self.best_perf)
        call_hooks(self.hooks, 'after_train', self, summary)
        return summary


def train(cfg, cfg_file, resume_file=None, finetune_file=None, local_rank=None, hooks=()):
    """Build a :class:`Trainer` (with the :class:`mipnet.engine.hooks.Hook` objects
    ``hooks``) and run it; always releases the run folder's lock and leaves the process
    group."""
    try:
        return Trainer(cfg, cfg_file, resume_file, finetune_file, local_rank,
                       hooks=hooks).fit()
    finally:
        preflight.release_locks()
        dist.cleanup()
