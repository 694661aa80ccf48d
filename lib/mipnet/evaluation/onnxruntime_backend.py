"""ONNX Runtime as the network of the multi-instance predictor
(``PoseInferencer(backend='onnxruntime')``).

The graph is the one ``tools/export_onnx.py --graph instances`` writes
(:func:`export_instances_onnx`): for a λ model ``images (B, 3, H, W), lambdas (K, N) ->
heatmaps (B, K, J, H/4, W/4)``, which runs the λ-independent trunk once per box and the rest
once per instance (:class:`~mipnet.models.graphs.InstancesForward`), so K instances cost what
they cost in PyTorch; for plain HRNet ``images -> heatmaps (B, J, H/4, W/4)``. B and K are
dynamic. ``onnx`` and ``onnxruntime`` are optional (``pip install -e .[onnx]``) and imported
only when used.
"""
import logging
import os

import numpy as np
import torch

__all__ = ['OnnxRuntimeModel', 'export_instances_onnx', 'verify_instances_onnx',
           'OnnxBackendError']

logger = logging.getLogger(__name__)

#: input names of the graphs this backend runs
INSTANCES_INPUTS = ['images', 'lambdas']
PLAIN_INPUTS = ['images']


class OnnxBackendError(RuntimeError):
    """The ONNX packages are missing, or the graph does not fit the config."""


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxBackendError(f'the onnxruntime backend needs the optional package '
                               f'onnxruntime ({exc}); install it with: pip install -e .[onnx]'
                               ) from None
    return onnxruntime


def export_instances_onnx(net, path, image_size, opset=17):
    """Write the backend's graph of ``net`` (eval mode, CPU) to ``path``.

    Args:
        net: :class:`~mipnet.models.hrnet.PoseHighResolutionNet` (not DDP-wrapped).
        path: the .onnx file (its folder is created).
        image_size: (width, height) of the network input.
        opset: ONNX opset.

    Returns:
        the graph's input names: ``['images', 'lambdas']`` for λ models, ``['images']``
        for plain HRNet.
    """
    from mipnet.models.graphs import InstancesForward
    net = net.cpu().eval()
    width, height = int(image_size[0]), int(image_size[1])
    images = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    if net.uses_lambda:
        wrapper, names = InstancesForward(net).eval(), INSTANCES_INPUTS
        inputs = (images, torch.eye(net.num_instances))
        dynamic = {'images': {0: 'batch'}, 'lambdas': {0: 'instances'},
                   'heatmaps': {0: 'batch', 1: 'instances'}}
    else:
        wrapper, names, inputs = net, PLAIN_INPUTS, (images,)
        dynamic = {'images': {0: 'batch'}, 'heatmaps': {0: 'batch'}}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # The TorchScript-based exporter (deprecated since PyTorch 2.9) on purpose: the backend
    # exports at start-up, and the torch.export-based one wrote the same graph (same
    # outputs, dynamic B and K) about 7 times slower (10.4 s against 1.5 s for the tiny
    # model). tools/export_onnx.py's single-instance graph uses the new exporter.
    with torch.no_grad():
        torch.onnx.export(wrapper, inputs, path, input_names=names, output_names=['heatmaps'],
                          dynamic_axes=dynamic, opset_version=int(opset),
                          do_constant_folding=True, dynamo=False)
    return names


def verify_instances_onnx(net, path, image_size, batch_sizes=(1, 3)):
    """Compare the graph of :func:`export_instances_onnx` with PyTorch on random inputs.

    Args:
        net: the exported network.
        path: the .onnx file.
        image_size: (width, height).
        batch_sizes: batch sizes tried, each with all N instances (several check the
            dynamic batch).

    Returns:
        dict batch size -> max absolute difference of the (B, K, J, h, w) heatmaps.
    """
    model = OnnxRuntimeModel(path)
    net = net.cpu().eval()
    instances = list(range(net.num_instances)) if net.uses_lambda else [0]
    width, height = int(image_size[0]), int(image_size[1])
    diffs = {}
    for b in batch_sizes:
        images = torch.randn(b, 3, height, width, generator=torch.Generator().manual_seed(b))
        with torch.no_grad():
            expected = net(images, instances=instances)
        got = model(images, instances)
        if got.shape != expected.shape:
            raise OnnxBackendError(f'onnxruntime output shape {tuple(got.shape)} differs from '
                                   f'PyTorch {tuple(expected.shape)} at batch size {b}')
        diffs[b] = float((got - expected).abs().max())
    return diffs


def _dim(value):
    return value if isinstance(value, int) else None


class OnnxRuntimeModel:
    """The network's multi-instance forward run by ONNX Runtime.

    Called as the predictor calls a network, ``model(images, instances=[...])``, it returns
    the same (B, K, J, h, w) float32 heatmaps as
    :meth:`~mipnet.models.hrnet.PoseHighResolutionNet.forward_instances` (to float
    tolerance), on the device of ``images``.

    Args:
        path: a graph written by :func:`export_instances_onnx`.
        device: torch device of the inputs; 'cuda' uses ONNX Runtime's CUDA execution
            provider when it is installed (else the CPU one, with a warning).
        threads: ONNX Runtime intra-op threads (default: ``torch.get_num_threads()``).

    Attributes:
        num_instances, uses_lambda, num_joints, image_size (width, height): read from the
            graph.
    """

    def __init__(self, path, device='cpu', threads=None):
        ort = require_onnxruntime()
        if not os.path.isfile(path):
            raise OnnxBackendError(f'ONNX model not found: {path}')
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        providers = ['CPUExecutionProvider']
        if torch.device(device).type == 'cuda':
            if 'CUDAExecutionProvider' in ort.get_available_providers():
                providers.insert(0, 'CUDAExecutionProvider')
            else:
                logger.warning('onnxruntime has no CUDA execution provider here '
                               '(onnxruntime-gpu is not installed): running on the CPU')
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:   # onnxruntime raises its own exception types
            raise OnnxBackendError(f'onnxruntime cannot load {path}: '
                                   f'{str(exc).splitlines()[0]}') from None
        self.path = str(path)
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        names = list(inputs)
        if names == ['images', 'lambda_vec']:
            raise OnnxBackendError(
                f'{path} is the single-instance graph (images, lambda_vec), which runs the '
                'whole network once per instance; export the shared-trunk graph with '
                'tools/export_onnx.py --graph instances')
        if names not in (INSTANCES_INPUTS, PLAIN_INPUTS):
            raise OnnxBackendError(f'{path} has inputs {names}; expected {INSTANCES_INPUTS} '
                                   f'or {PLAIN_INPUTS} (tools/export_onnx.py --graph '
                                   'instances)')
        self.uses_lambda = names == INSTANCES_INPUTS
        self.num_instances = _dim(inputs['lambdas'][1]) if self.uses_lambda else 1
        shape = inputs['images']
        self.image_size = (_dim(shape[3]), _dim(shape[2]))
        out = self.session.get_outputs()[0].shape
        self.num_joints = _dim(out[2] if self.uses_lambda else out[1])
        self.providers = self.session.get_providers()

    def eval(self):
        """No train mode here; kept so that code calling ``model.eval()`` runs."""
        return self

    def __call__(self, images, instances=None, shared_trunk=True):
        """images (B, 3, H, W) -> (B, K, J, h, w) float32 heatmaps on ``images.device``.

        ``shared_trunk`` is accepted for the network's signature: the graph always shares
        the trunk (the two ways agree to float tolerance).
        """
        instances = [0] if not self.uses_lambda else \
            list(range(self.num_instances)) if instances is None else list(instances)
        feed = {'images': images.detach().float().cpu().contiguous().numpy()}
        if self.uses_lambda:
            feed['lambdas'] = np.eye(self.num_instances, dtype=np.float32)[instances]
        out = torch.from_numpy(self.session.run(None, feed)[0]).to(images.device)
        if not self.uses_lambda:
            out = out.unsqueeze(1).expand(-1, len(instances), -1, -1, -1)
        return out
