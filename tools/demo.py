"""Multi-instance pose demo on an image, a folder of images or a video (a command line over
mipnet.apis.PoseInferencer).

    python tools/demo.py --cfg experiments/synthetic/tiny_mipnet.yaml \
        TEST.MODEL_FILE output/.../model_best.pth --image photo.jpg --out demo_out \
        [--detector hog | --detector onnx --det-model yolox.onnx |
         --boxes-file dets.json | --boxes x,y,w,h ...]

See docs/inference.md and ``python tools/demo.py --help``.
"""
import sys

from mipnet.cli.demo import main

if __name__ == '__main__':
    sys.exit(main())
