"""Export MIPNet / HRNet to ONNX (dynamic batch) and check it against PyTorch with onnxruntime.

    python tools/export_onnx.py --cfg experiments/synthetic/demo_mipnet.yaml \
        TEST.MODEL_FILE checkpoints/demo_mipnet.pth --out output/mipnet.onnx [--opset 18]

See docs/inference.md and ``python tools/export_onnx.py --help``.
"""
import sys

from mipnet.cli.export import main

if __name__ == '__main__':
    sys.exit(main())
