"""An HRNet trained alongside a MIPNet, whose heatmaps instance 0 is distilled towards
(``LOSS.TEACHER_WEIGHT``; this port's first-instance protection, beyond the reference).

MIPNet fine-tuned from a converged HRNet loses some of the people HRNet finds from their
own box (docs/results.md). A frozen teacher would pin instance 0 at the initial HRNet while
HRNet itself keeps improving; this teacher starts from the same checkpoint as the student
(``TRAIN.INIT_CHECKPOINT``) and trains on the same batches with the plain HRNet loss, so it
is "HRNet continued" inside the same run. With ``MODEL.LAMBDA_IDENTITY_START`` the student's
instance 0 equals the teacher at step 0, so the extra loss starts at zero. Evaluation never
builds or runs the teacher."""
import torch

from mipnet.config import ConfigError
from mipnet.engine.optim import build_optimizer, build_scheduler
from mipnet.losses import build_criterion
from mipnet.models import build_model, init_from_checkpoint
from mipnet.utils import dist
from mipnet.utils.checkpoint import CheckpointError


def _unwrap(model):
    return model.module if hasattr(model, 'module') else model


class AlongsideTeacher:
    """The teacher HRNet of one training run, with its own optimizer and LR schedule (the
    student's settings).

    Args:
        cfg: the student's (MIPNet) config; the teacher is ``pose_hrnet`` with its widths.
        device: training device.
    """

    def __init__(self, cfg, device):
        if not cfg.TRAIN.INIT_CHECKPOINT:
            raise ConfigError('LOSS.TEACHER_WEIGHT > 0 needs TRAIN.INIT_CHECKPOINT (or '
                              '--init_checkpoint): the HRNet checkpoint the teacher and the '
                              'MIPNet start from')
        teacher_cfg = cfg.clone()
        teacher_cfg.defrost()
        teacher_cfg.MODEL.NAME = 'pose_hrnet'
        teacher_cfg.freeze()
        self.weight = float(cfg.LOSS.TEACHER_WEIGHT)
        model = build_model(teacher_cfg, is_train=True)
        try:
            init_from_checkpoint(model, cfg.TRAIN.INIT_CHECKPOINT)
        except CheckpointError as exc:
            raise CheckpointError(f'LOSS.TEACHER_WEIGHT: the teacher is an HRNet initialised '
                                  f'from TRAIN.INIT_CHECKPOINT, which must be an HRNet '
                                  f'checkpoint of the same widths: {exc}') from None
        model.to(device)
        if dist.is_distributed():
            model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=None if device.type == 'cpu' else [device])
        self.model = model
        self.criterion = build_criterion(cfg)
        self.optimizer = build_optimizer(teacher_cfg, model, device)
        self.scheduler = build_scheduler(teacher_cfg, self.optimizer)

    def losses(self, images, target, target_weight, student_heatmaps):
        """The teacher's own loss and the distillation loss of one batch.

        Args:
            images: (B, 3, H, W); target: (B, N, J, h, w); target_weight: (B, N, J, 1).
            student_heatmaps: (B, J, h, w), the student's instance-0 heatmaps.

        Returns:
            (teacher loss against instance 0's target, 0.5 * mean squared difference of the
            student's heatmaps from the teacher's, which get no gradient from it): scalars.
        """
        teacher = self.model(images)
        own = self.criterion(teacher, target[:, 0], target_weight[:, 0])
        distill = 0.5 * (student_heatmaps.float() - teacher.detach().float()).pow(2).mean()
        return own, distill

    def state_dict(self):
        """What a training checkpoint keeps of the teacher (under its key ``teacher``)."""
        return {'state_dict': _unwrap(self.model).state_dict(),
                'optimizer': self.optimizer.state_dict(),
                'scheduler': self.scheduler.state_dict()}

    def load_state_dict(self, state, path):
        """Restore the teacher from the training checkpoint ``path``'s ``state``."""
        try:
            _unwrap(self.model).load_state_dict(state['state_dict'])
            self.optimizer.load_state_dict(state['optimizer'])
            self.scheduler.load_state_dict(state['scheduler'])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f'checkpoint {path}: its teacher state does not fit '
                                  f'(LOSS.TEACHER_WEIGHT): {str(exc).splitlines()[0]}') from None
