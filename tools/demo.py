"""Multi-instance pose demo on an image, a folder of images or a video.

    python tools/demo.py --cfg experiments/synthetic/tiny_mipnet.yaml \
        TEST.MODEL_FILE output/.../model_best.pth \
        --image photo.jpg [--boxes-file dets.json | --boxes x,y,w,h ...] --out demo_out

See docs/inference.md and ``python tools/demo.py --help``.
"""
import sys

from mipnet.engine.demo import main

if __name__ == '__main__':
    sys.exit(main())
