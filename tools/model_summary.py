"""Print the parameter count and FLOPs per box of a config's model.

    python tools/model_summary.py --cfg experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml
"""
from mipnet.cli.model_summary import main

if __name__ == '__main__':
    main()
