"""Train MIPNet or the HRNet baseline.

    python tools/train.py --cfg experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml [KEY VALUE ...]
    torchrun --nproc_per_node=8 tools/train.py --cfg ... [KEY VALUE ...]
"""
from mipnet.cli.train_test import train_main

if __name__ == '__main__':
    train_main()
