"""Inference API: poses of every person in images, folders and videos.

    from mipnet.apis import PoseInferencer
    inferencer = PoseInferencer('experiments/....yaml', 'model_best.pth', detector='hog')
    for result in inferencer('photo.jpg'):
        print(result['poses'])

Public API:
    PoseInferencer: the model, its detector and the merge of all instances
    build_detector / DETECTORS / detector_names: person detectors by name ('none', 'file',
        'hog', 'onnx', and the zoo's 'yolox-nano' ... 'yolox-x')
    InputError: bad input (ValueError subclass)
"""
from mipnet.apis.detectors import (DETECTORS, InputError, build_detector, check_detections,
                                   detector_names)
from mipnet.apis.inferencer import PoseInferencer, check_box, make_crop

__all__ = ['PoseInferencer', 'DETECTORS', 'InputError', 'build_detector', 'check_detections',
           'detector_names', 'check_box', 'make_crop']
