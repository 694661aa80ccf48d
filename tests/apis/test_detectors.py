"""Person detector backends: ONNX layouts (end-to-end dets/labels, raw YOLOX), HOG, files."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mipnet.apis import InputError, build_detector, check_detections
from mipnet.apis.detectors import HOGDetector, ONNXDetector, nms_boxes
from tests.apis._helpers import onnx_detector_model as _onnx_model

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')


def test_onnx_end2end_layout(tmp_path):
    # mmdeploy / rtmlib end2end export: dets (1, N, 5) in input pixels + labels (1, N).
    dets = np.array([[[10, 5, 30, 60, 0.9],     # person
                      [11, 6, 31, 59, 0.8],     # same person again: removed by the NMS
                      [40, 10, 60, 40, 0.95],   # class 2: not a person
                      [40, 30, 60, 62, 0.1]]],  # below the score threshold
                    dtype=np.float32)
    labels = np.array([[0, 0, 2, 0]], dtype=np.int64)
    path = _onnx_model(tmp_path / 'end2end.onnx', {'dets': dets, 'labels': labels})
    det = build_detector('onnx', model_file=path, score_thre=0.3, nms_thre=0.45)
    image = np.zeros((1000, 500, 3), np.uint8)  # letterboxed by 64 / 1000
    boxes, scores = det(image)
    ratio = 64 / 1000
    np.testing.assert_allclose(boxes, [[10 / ratio, 5 / ratio, 20 / ratio, 55 / ratio]],
                               rtol=1e-6)
    np.testing.assert_allclose(scores, [0.9], rtol=1e-6)
    blob, r = det.preprocess(image)
    assert blob.shape == (1, 3, 64, 64) and r == ratio
    assert (blob[0, :, :, 32:] == 114).all() and (blob[0, :, :, :32] == 0).all()


def test_onnx_raw_yolox_layout_dynamic_input(tmp_path):
    # Raw YOLOX head: A = 8*8 + 4*4 + 2*2 anchors of a 64x64 input, [cx, cy, log w, log h,
    # objectness, person, other class].
    raw = np.zeros((1, 84, 7), np.float32)
    raw[0, 4 * 8 + 3] = [0.5, 0.5, np.log(4), np.log(8), 0.9, 0.8, 0.1]  # stride 8, cell (3, 4)
    raw[0, 64 + 1 * 4 + 2] = [0.0, 0.0, np.log(1), np.log(2), 0.9, 0.5, 0.1]  # stride 16
    raw[0, 0] = [0, 0, 0, 0, 0.9, 0.05, 0.9]  # another class
    path = _onnx_model(tmp_path / 'raw.onnx', {'output': raw},
                       input_shape=['batch', 3, 'height', 'width'])
    det = ONNXDetector(path, score_thre=0.3, input_size=(64, 64))
    boxes, scores = det(np.zeros((128, 128, 3), np.uint8))  # ratio 0.5
    # (3.5, 4.5) * 8 = (28, 36), size (32, 64) -> x1 y1 = (12, 4); (2, 1) * 16 = (32, 16),
    # size (16, 32) -> (24, 0); both in input pixels, times 2 for the image.
    np.testing.assert_allclose(boxes, [[24, 8, 64, 128], [48, 0, 32, 64]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.72, 0.45], rtol=1e-5)
    # A 96x96 input has 144 + 36 + 9 anchors, not 84: the layout is refused.
    det = ONNXDetector(path, input_size=(96, 96))
    with pytest.raises(InputError, match='raw YOLOX output has 84 anchors, but a 96x96 input'):
        det(np.zeros((10, 10, 3), np.uint8))


def test_onnx_bad_inputs(tmp_path):
    with pytest.raises(InputError, match='detector model file not found: .*missing.onnx'):
        build_detector('onnx', model_file=str(tmp_path / 'missing.onnx'))
    with pytest.raises(InputError, match='needs a model file'):
        build_detector('onnx')
    wrong = _onnx_model(tmp_path / 'wrong.onnx', {'dets': np.zeros((1, 3, 4), np.float32)})
    with pytest.raises(InputError, match=r'first output has shape \(1, 3, 4\); expected dets '
                                         r'\(1, N, 5\)'):
        build_detector('onnx', model_file=wrong)(np.zeros((64, 64, 3), np.uint8))
    labels = _onnx_model(tmp_path / 'labels.onnx',
                         {'dets': np.zeros((1, 3, 5), np.float32),
                          'labels': np.zeros((1, 2), np.int64)})
    with pytest.raises(InputError, match=r'labels output has shape \(1, 2\); expected \(1, 3\)'):
        build_detector('onnx', model_file=labels)(np.zeros((64, 64, 3), np.uint8))
    garbage = tmp_path / 'garbage.onnx'
    garbage.write_bytes(b'not a model')
    with pytest.raises(InputError, match='could not be loaded by onnxruntime'):
        build_detector('onnx', model_file=str(garbage))
    with pytest.raises(InputError, match="unknown detector 'yolo'"):
        build_detector('yolo')


def test_onnx_input_other_than_a_3_channel_float_image_is_one_clear_error(tmp_path):
    """Issue 27, item 7: such a model gave a raw onnxruntime error when called."""
    gray = _onnx_model(tmp_path / 'gray.onnx', {'dets': np.zeros((1, 3, 5), np.float32)},
                       input_shape=(1, 1, 64, 64))
    with pytest.raises(InputError, match=r'detector model .*gray.onnx takes a tensor\(float\) '
                                         r'input of shape \[1, 1, 64, 64\]; this detector '
                                         r'feeds a float32 \(1, 3, H, W\) BGR image'):
        build_detector('onnx', model_file=gray)
    # A dynamic channel count is only found out when the model runs: an InputError too.
    from onnx import TensorProto, helper, numpy_helper
    weight = numpy_helper.from_array(np.ones((1, 4, 1, 1), np.float32), 'w')
    graph = helper.make_graph(
        [helper.make_node('Conv', ['input', 'w'], ['conv']),
         helper.make_node('ReduceMean', ['conv'], ['mean'], keepdims=0),
         helper.make_node('Reshape', ['mean', 'shape'], ['dets'])],
        'four_channels',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 'c', 64, 64])],
        [helper.make_tensor_value_info('dets', TensorProto.FLOAT, [1, 1, 1])],
        initializer=[weight, numpy_helper.from_array(np.array([1, 1, 1], np.int64), 'shape')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / 'four.onnx'))
    det = build_detector('onnx', model_file=str(tmp_path / 'four.onnx'))
    with pytest.raises(InputError, match=r'detector model .*four.onnx failed on a '
                                         r'\(1, 3, 64, 64\) input: '):
        det(np.zeros((64, 64, 3), np.uint8))


def test_onnx_non_finite_detections_are_skipped_and_counted(tmp_path, caplog):
    """Issue 27, item 8: a NaN box that is not the best one vanished in the NMS (a NaN IoU
    compares False); the best one stopped the run. Both are skipped and counted."""
    dets = np.array([[[10, 5, 30, 60, 0.9],
                      [12, np.nan, 30, 60, 0.8],      # NaN box, not top-scored
                      [40, 10, 60, 40, np.nan],       # NaN score
                      [40, 20, 60, 62, 0.7]]], dtype=np.float32)
    path = _onnx_model(tmp_path / 'nan.onnx', {'dets': dets})
    det = build_detector('onnx', model_file=path, score_thre=0.3)
    with caplog.at_level('WARNING', logger='mipnet.apis'):
        boxes, scores = det(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[10, 5, 20, 55], [40, 20, 20, 42]])
    np.testing.assert_allclose(scores, [0.9, 0.7], rtol=1e-6)
    assert det.nonfinite == 2
    assert f'ONNX detector {path}: 2 detection(s) with a non-finite box or score skipped ' \
        '(2 so far)' in caplog.text
    top = dets.copy()
    top[0, 0, 2] = np.inf                              # the best box itself
    det = build_detector('onnx', model_file=_onnx_model(tmp_path / 'inf.onnx', {'dets': top}),
                         score_thre=0.3)
    boxes, _ = det(np.zeros((64, 64, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[40, 20, 20, 42]])
    assert det.nonfinite == 3


def test_check_detections_and_nms():
    with pytest.raises(InputError, match=r'boxes of shape \(2, 3\).*expected \(M, 4\)'):
        check_detections(np.zeros((2, 3)), np.zeros(2), 'x')
    with pytest.raises(InputError, match='non-finite'):
        check_detections([[0, 0, np.nan, 1]], [1.0], 'x')
    keep = nms_boxes([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 5, 5]], [0.5, 0.9, 0.7], 0.5)
    assert keep.tolist() == [1, 2]


def test_hog_finds_a_person(fixtures):
    if not hasattr(cv2, 'HOGDescriptor'):
        pytest.skip(f'OpenCV {cv2.__version__} has no HOGDescriptor (removed in OpenCV 5)')
    image = cv2.imread(str(fixtures / 'ochuman' / '003799.jpg'))
    boxes, scores = build_detector('hog')(image)
    height, width = image.shape[:2]
    assert len(boxes) >= 1
    assert ((scores > 0) & (scores <= 1)).all()
    # People are taller than wide; boxes lie (mostly) in the image.
    assert (boxes[:, 3] > boxes[:, 2]).all() and (boxes[:, 3] >= 100).all()
    assert (boxes[:, 0] < width).all() and (boxes[:, 1] < height).all()


# OpenCV's HOG segfaults (64x64) or corrupts the heap (1x1, 3000x20) on images smaller
# than its 64x128 window (issue 27, item 1); (width, height).
HOG_SIZES = [(1, 1), (10, 300), (64, 64), (3000, 20), (63, 127), (64, 128), (128, 64),
             (300, 10), (20, 3000), (65, 129)]
_HOG_GRID = """
import sys
import numpy as np
from mipnet.apis.detectors import HOGDetector
detector = HOGDetector()
for size in sys.argv[1:]:
    w, h = map(int, size.split('x'))
    image = np.random.default_rng(w * h).integers(0, 255, (h, w, 3), dtype=np.uint8)
    boxes, scores = detector(image)
    inside = (boxes[:, :2] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= w).all() and \\
        (boxes[:, 1] + boxes[:, 3] <= h).all()
    print(size, 'ok' if inside else 'outside', flush=True)
"""


def test_hog_never_crashes_on_small_or_narrow_images():
    """Every size of the grid in a child process: a native crash kills the child, not the
    tests, and shows as its exit status (139: SIGSEGV, 134: SIGABRT)."""
    if not hasattr(cv2, 'HOGDescriptor'):
        pytest.skip(f'OpenCV {cv2.__version__} has no HOGDescriptor (removed in OpenCV 5)')
    sizes = [f'{w}x{h}' for w, h in HOG_SIZES]
    proc = subprocess.run([sys.executable, '-c', _HOG_GRID, *sizes], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1'))
    done = proc.stdout.split()
    assert proc.returncode == 0, (f'exit status {proc.returncode} after {done[-2:]}',
                                  proc.stderr[-2000:])
    assert proc.stdout.splitlines() == [f'{size} ok' for size in sizes]


def test_hog_boxes_of_a_padded_image_are_clipped_to_it():
    """A small image is padded for OpenCV; boxes come back clipped to the image, and boxes
    that lie in the padding only are dropped."""
    if not hasattr(cv2, 'HOGDescriptor'):
        pytest.skip(f'OpenCV {cv2.__version__} has no HOGDescriptor (removed in OpenCV 5)')
    seen = []

    class FakeHOG:
        def detectMultiScale(self, image, **kwargs):
            seen.append(image.shape)
            return (np.array([[10, 20, 64, 128], [50, 5, 64, 128], [0, 0, 30, 40]]),
                    np.array([0.9, 0.8, 0.7]))
    detector = HOGDetector(nms_thre=1.0)
    detector.hog = FakeHOG()
    boxes, scores = detector(np.zeros((100, 40, 3), np.uint8))
    assert seen == [(128, 64, 3)]
    np.testing.assert_allclose(boxes, [[10, 20, 30, 80], [0, 0, 30, 40]])
    np.testing.assert_allclose(scores, [0.9, 0.7])
    boxes, _ = detector(np.zeros((1000, 200, 3), np.uint8))     # big enough: not padded
    assert seen[-1] == (800, 160, 3)
    np.testing.assert_allclose(boxes[0], [12.5, 25, 80, 160])


def test_hog_missing_in_opencv_is_one_clear_error(monkeypatch):
    monkeypatch.delattr(cv2, 'HOGDescriptor', raising=False)
    with pytest.raises(InputError, match='hog detector needs cv2.HOGDescriptor.*'
                                         'opencv-python-headless<5'):
        HOGDetector()
