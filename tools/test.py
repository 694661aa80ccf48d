"""Evaluate a checkpoint on the configured test set (every instance, merged and alone).

    python tools/test.py --cfg experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml \
        TEST.MODEL_FILE output/coco/pose_hrnet_se_lambda/w48_384x288_adam_lr1e-3/model_best.pth
"""
from mipnet.cli.train_test import eval_main

if __name__ == '__main__':
    eval_main()
