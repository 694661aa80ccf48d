"""The batch of a training run: ``TRAIN.GLOBAL_BATCH_SIZE`` boxes per optimizer step split
over the processes (the reference's batch whatever the device count), or
``TRAIN.BATCH_SIZE_PER_GPU`` boxes on every device when it is 0; and the one-line description
(world size, per-device and global batch, LR, precision) that starts every training log.

The launchers in ``test/`` apply the same rule (``mipnet_batch_plan`` in test/common.sh).
"""
import collections

__all__ = ['BatchPlan', 'split_global_batch', 'plan_batch', 'precision_name', 'describe_run']

BatchPlan = collections.namedtuple('BatchPlan', 'per_device world_size global_batch requested note')
BatchPlan.__doc__ = """Boxes per device and per step of a run.

Attributes:
    per_device: boxes per device per step (the loader's batch size).
    world_size: number of processes.
    global_batch: ``per_device * world_size``, the boxes of one optimizer step.
    requested: ``TRAIN.GLOBAL_BATCH_SIZE`` (0: the per-device batch of the config was used).
    note: '' or one line saying that the requested global batch did not divide.
"""


def split_global_batch(global_batch, world_size):
    """Boxes per device for ``global_batch`` boxes over ``world_size`` processes: the
    quotient rounded half up, at least 1."""
    return max(1, (2 * global_batch + world_size) // (2 * world_size))


def plan_batch(cfg, world_size):
    """The :class:`BatchPlan` of ``cfg`` on ``world_size`` processes."""
    requested = int(cfg.TRAIN.GLOBAL_BATCH_SIZE)
    if requested <= 0:
        per = int(cfg.TRAIN.BATCH_SIZE_PER_GPU)
        return BatchPlan(per, world_size, per * world_size, 0, '')
    per = split_global_batch(requested, world_size)
    note = ''
    if per * world_size != requested:
        note = (f'TRAIN.GLOBAL_BATCH_SIZE {requested} does not divide over {world_size} '
                f'processes: {per} boxes per device, {per * world_size} per step (pass '
                'TRAIN.BATCH_SIZE_PER_GPU to choose the per-device batch instead)')
    return BatchPlan(per, world_size, per * world_size, requested, note)


def precision_name(amp, device_type):
    """'fp32', or the autocast type of ``TRAIN.AMP`` on ``device_type``."""
    if not amp:
        return 'fp32'
    return 'AMP bfloat16' if device_type == 'cpu' else 'AMP float16'


def describe_run(plan, lr, precision):
    """One line: world size, per-device and global batch, LR and precision."""
    source = (f'TRAIN.GLOBAL_BATCH_SIZE {plan.requested}' if plan.requested
              else 'TRAIN.BATCH_SIZE_PER_GPU')
    return (f'world size {plan.world_size}, batch {plan.per_device} per device x '
            f'{plan.world_size} = {plan.global_batch} global ({source}), LR {lr:g}, '
            f'precision {precision}')
