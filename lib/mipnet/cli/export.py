"""ONNX export of the λ model (``tools/export_onnx.py``), verified with onnxruntime.

The exported graph is ``model.forward(images, lambda_vec)`` in eval mode (BatchNorm uses its
running statistics): inputs ``images`` (B, 3, H, W) float32 and ``lambda_vec`` (B, N)
float32 (one-hot instance selectors; N = ``MODEL.NUM_INSTANCES``), output ``heatmaps``
(B, J, H/4, W/4), with a dynamic batch B. Plain HRNet (``pose_hrnet``) exports ``images``
only. ``--graph instances`` writes the shared-trunk graph of the ONNX Runtime backend
instead (:mod:`mipnet.evaluation.onnxruntime_backend`). The graph comes from PyTorch's
``torch.export``-based exporter (``dynamo=True``; the TorchScript-based one is deprecated
since PyTorch 2.9), which writes opset 18 or later. ``onnx``, ``onnxruntime`` and
``onnxscript`` (the exporter's ONNX builder) are optional (``pip install -e .[onnx]``) and
imported only here.
"""
import contextlib
import logging
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

from mipnet.cli.parsers import export_parser
from mipnet.config import ConfigError, load_config
from mipnet.evaluation.onnxruntime_backend import (OnnxBackendError, export_instances_onnx,
                                                   verify_instances_onnx)
from mipnet.utils.checkpoint import CheckpointError

logger = logging.getLogger(__name__)

__all__ = ['ExportError', 'export_onnx', 'verify_onnx', 'main']

#: maximum |onnxruntime - PyTorch| accepted by the verification
TOLERANCE = 1e-4
#: the oldest opset the torch.export-based exporter writes (older requests are kept at 18)
MIN_OPSET = 18


class ExportError(RuntimeError):
    """Export or verification failed, or the optional ONNX packages are missing."""


def _require_onnx():
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401 - the exporter's ONNX builder
    except ImportError as exc:
        raise ExportError(f'ONNX export needs the optional packages onnx, onnxruntime and '
                          f'onnxscript ({exc}); install them with: pip install -e .[onnx]') \
            from None
    return onnx, onnxruntime


@contextlib.contextmanager
def _quiet_exporter():
    """Silence what the exporter says about itself, not about the model: its registry logs
    one warning per torchvision operator when torchvision is absent (MIPNet uses none), a
    deprecation inside torch's own pytree code, and a note that the one batch dimension
    shared by every input keeps its name. Any other warning still shows."""
    registry = logging.getLogger('torch.onnx._internal.exporter._registration')
    level = registry.level
    registry.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=r'.*isinstance\(treespec, LeafSpec\)',
                                    category=FutureWarning)
            warnings.filterwarnings('ignore', message=r'# The axis name: batch will not be used',
                                    category=UserWarning)
            yield
    finally:
        registry.setLevel(level)


class _LambdaForward(nn.Module):
    """``net(images, lambda_vec)``: the single-instance λ forward, no Python branching on λ."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, images, lambda_vec):
        return self.net(images, lambda_vec)


class _ImagesForward(nn.Module):
    """``net(images)`` of plain HRNet."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, images):
        return self.net(images)


def example_inputs(net, image_size, batch_size, seed=0):
    """Random inputs of the export signature.

    Args:
        net: the network (``uses_lambda``, ``num_instances``).
        image_size: (width, height).
        batch_size: B.

    Returns:
        tuple of float32 tensors: (images (B, 3, H, W), lambda_vec (B, N)) for λ models,
        (images,) otherwise; λ rows are one-hot, cycling through the instances.
    """
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, int(image_size[1]), int(image_size[0]), generator=gen)
    if not net.uses_lambda:
        return (images,)
    idx = torch.arange(batch_size) % net.num_instances
    return images, nn.functional.one_hot(idx, net.num_instances).float()


def export_onnx(net, path, image_size, opset=MIN_OPSET):
    """Export ``net`` (eval mode, CPU) to ``path`` with a dynamic batch dimension named
    ``batch``, through ``torch.export`` (``torch.onnx.export(..., dynamo=True)``).

    Returns:
        list of the graph's input names.

    Raises:
        ExportError: ``opset`` below :data:`MIN_OPSET`, or the exporter failed.
    """
    _require_onnx()
    if int(opset) < MIN_OPSET:
        raise ExportError(f'--opset {opset}: the torch.export-based exporter writes opset '
                          f'{MIN_OPSET} or later (onnxruntime >= 1.14 reads it)')
    net = net.cpu().eval()
    uses_lambda = net.uses_lambda
    wrapper = (_LambdaForward if uses_lambda else _ImagesForward)(net).eval()
    names = ['images', 'lambda_vec'] if uses_lambda else ['images']
    batch = torch.export.Dim('batch')
    dynamic = {name: {0: batch} for name in names}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        with torch.no_grad(), _quiet_exporter():
            torch.onnx.export(wrapper, example_inputs(net, image_size, 2), path,
                              input_names=names, output_names=['heatmaps'],
                              dynamic_shapes=dynamic, opset_version=int(opset), dynamo=True,
                              verbose=False)
    except Exception as exc:  # noqa: BLE001 - torch.export / onnxscript raise many types
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f'the ONNX export failed ({type(exc).__name__}: {detail})') from exc
    return names


def verify_onnx(net, path, image_size, batch_sizes=(1, 3)):
    """Compare onnxruntime with PyTorch on random inputs.

    Args:
        net: the exported network.
        path: ONNX file.
        image_size: (width, height).
        batch_sizes: batch sizes tried (several check the dynamic batch).

    Returns:
        dict batch size -> max absolute difference of the heatmaps.
    """
    onnx, ort = _require_onnx()
    onnx.checker.check_model(onnx.load(path))
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    names = [i.name for i in session.get_inputs()]
    net = net.cpu().eval()
    diffs = {}
    for b in batch_sizes:
        inputs = example_inputs(net, image_size, b, seed=b)
        with torch.no_grad():
            expected = net(*inputs).numpy()
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0]
        if got.shape != expected.shape:
            raise ExportError(f'onnxruntime output shape {got.shape} differs from PyTorch '
                              f'{expected.shape} at batch size {b}')
        diffs[b] = float(np.max(np.abs(got - expected)))
    return diffs


def main(argv=None):
    """Entry point of ``tools/export_onnx.py``; returns the exit status (0, or 1 after one
    ``error: ...`` line on stderr)."""
    args = export_parser().parse_intermixed_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s',
                            stream=sys.stderr)
    try:
        _require_onnx()
        opts = list(args.opts)
        if args.instances is not None:
            opts += ['MODEL.NUM_INSTANCES', str(args.instances)]
        cfg = load_config(args.cfg, opts)
        try:
            sizes = [int(v) for v in args.verify_batch_sizes.split(',') if v.strip()]
        except ValueError:
            sizes = []
        if not sizes or min(sizes) <= 0:
            raise ExportError(f'--verify-batch-sizes {args.verify_batch_sizes!r}: expected '
                              'positive comma-separated integers')
        from mipnet.models import build_model, load_weights
        if cfg.TEST.MODEL_FILE:
            net = build_model(cfg, is_train=False)
            load_weights(net, cfg, cfg.TEST.MODEL_FILE)
        elif args.random_weights:
            torch.manual_seed(0)
            net = build_model(cfg, is_train=False)
            logger.warning('exporting random weights (--random-weights)')
        else:
            raise ConfigError('TEST.MODEL_FILE is empty: pass the checkpoint as a config '
                              'override (TEST.MODEL_FILE model.pth), or --random-weights for '
                              'a smoke test')
        if args.graph == 'instances':
            names = export_instances_onnx(net, args.out, cfg.MODEL.IMAGE_SIZE, args.opset)
            diffs = verify_instances_onnx(net, args.out, cfg.MODEL.IMAGE_SIZE, sizes)
        else:
            names = export_onnx(net, args.out, cfg.MODEL.IMAGE_SIZE, args.opset)
            diffs = verify_onnx(net, args.out, cfg.MODEL.IMAGE_SIZE, sizes)
    except (ConfigError, CheckpointError, ExportError, OnnxBackendError, OSError) as exc:
        print('error: ' + ' '.join(str(exc).split()), file=sys.stderr)
        return 1
    worst = max(diffs.values())
    width, height = cfg.MODEL.IMAGE_SIZE
    shapes = f'images (B, 3, {height}, {width})'
    if 'lambda_vec' in names:
        shapes += f', lambda_vec (B, {cfg.MODEL.NUM_INSTANCES})'
    if 'lambdas' in names:
        shapes += f', lambdas (K, {cfg.MODEL.NUM_INSTANCES})'
    print(f'exported {args.out}: inputs {shapes} -> heatmaps (B, '
          f'{"K, " if "lambdas" in names else ""}{cfg.MODEL.NUM_JOINTS}, '
          f'{height // 4}, {width // 4}), opset {args.opset}')
    print('onnxruntime vs PyTorch max abs difference: ' +
          ', '.join(f'{d:.3g} (batch {b})' for b, d in diffs.items()))
    if not worst <= TOLERANCE:
        print(f'error: onnxruntime differs from PyTorch by {worst:.3g} > {TOLERANCE:g}',
              file=sys.stderr)
        return 1
    return 0
