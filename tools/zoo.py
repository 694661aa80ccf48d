"""The model zoo: weights and person detectors by name, cached in $MIPNET_HOME.

    python tools/zoo.py list                      # names, sizes, configs, what is cached
    python tools/zoo.py download mmpose-hrnet-w32-coco-256x192 yolox-m
    python tools/zoo.py convert mmpose_checkpoint.pth port_checkpoint.pth

Options: ``--help``; the tool is :mod:`mipnet.cli.zoo`.
"""
import sys

from mipnet.cli.zoo import main

if __name__ == '__main__':
    sys.exit(main())
