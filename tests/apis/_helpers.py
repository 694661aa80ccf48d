"""Helpers shared by the API and demo tests: a random tiny checkpoint, a small video, a
constant ONNX person detector."""
import cv2
import numpy as np
import torch

from mipnet.config import load_config
from mipnet.models import build_model
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')


def save_tiny_random_checkpoint(path):
    """Save a random tiny MIPNet whose heatmaps sit around 0.5 (every joint has a confidence
    near 0.5, so it is drawn and scores lie in [0, 1]; its argmax varies with the image);
    returns ``str(path)``."""
    torch.manual_seed(0)
    model = build_model(load_config(TINY)).eval()
    with torch.no_grad():
        model.final_layer.weight.mul_(0.5)
        model.final_layer.bias.fill_(0.5)
    torch.save(model.state_dict(), path)
    return str(path)


def write_random_video(path, frames, width=96, height=80):
    """An mp4v video of ``frames`` random (height, width) BGR frames at 10 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10, (width, height))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    writer.release()
    return path


def onnx_detector_model(path, outputs, input_shape=(1, 3, 64, 64)):
    """A model whose outputs are constants plus 0 x mean(input), so they depend on a real
    (1, 3, H, W) input as a detector's do."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node('ReduceMean', ['input'], ['mean'], keepdims=0),
             helper.make_node('Mul', ['mean', 'zero'], ['nothing'])]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), 'zero')]
    graph_outputs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value, name + '_const'))
        if value.dtype == np.float32:
            nodes.append(helper.make_node('Add', [name + '_const', 'nothing'], [name]))
            elem = TensorProto.FLOAT
        else:
            nodes.append(helper.make_node('Identity', [name + '_const'], [name]))
            elem = TensorProto.INT64
        graph_outputs.append(helper.make_tensor_value_info(name, elem, list(value.shape)))
    graph = helper.make_graph(
        nodes, 'tiny_detector',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, list(input_shape))],
        graph_outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)
