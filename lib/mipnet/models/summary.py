"""Parameter count and FLOPs per image of a model, measured by forward hooks."""
import torch
from torch import nn


def count_parameters(model):
    """Number of trainable and non-trainable parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def count_flops(model, image_size, num_instances=1):
    """Multiply-accumulate-based FLOPs (2 per MAC) of one box, convolutions and linears only.

    Args:
        model: a pose network taking (1, 3, H, W).
        image_size: (width, height).
        num_instances: K instances through ``forward_instances`` (1 = a plain forward).

    Returns:
        dict with 'total' and 'per_module' (name -> FLOPs) for the run.
    """
    per_module = {}

    def hook(name):
        def fn(module, inputs, output):
            if isinstance(module, nn.Conv2d):
                kernel_macs = module.in_channels // module.groups * module.kernel_size[0] * \
                    module.kernel_size[1]
                macs = output.numel() * kernel_macs
            else:
                macs = output.numel() * module.in_features
            per_module[name] = per_module.get(name, 0) + 2 * macs
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            images = torch.zeros(1, 3, image_size[1], image_size[0])
            if num_instances > 1 or getattr(model, 'uses_lambda', False):
                model.forward_instances(images, list(range(num_instances)))
            else:
                model(images)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {'total': sum(per_module.values()), 'per_module': per_module}


def model_summary(model, image_size):
    """One-line human summary: parameters (M) and GFLOPs per box for one and all instances."""
    params = count_parameters(model)
    one = count_flops(model, image_size, 1)['total']
    text = f'{type(model).__name__}: {params / 1e6:.2f}M parameters, {one / 1e9:.2f} GFLOPs/box'
    n = getattr(model, 'num_instances', 1)
    if getattr(model, 'uses_lambda', False) and n > 1:
        alln = count_flops(model, image_size, n)['total']
        text += f', {alln / 1e9:.2f} GFLOPs for all {n} instances (shared trunk, {alln / one:.2f}x)'
    return text

