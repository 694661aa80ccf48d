#!/usr/bin/env bash
# Fine-tuning on one device from the weights of --pth_path (tools/train.py --pth_path).
#
#   bash ./test/train_finetune_1p.sh --data_path=/data/coco --pth_path=CHECKPOINT [options] [KEY VALUE ...]
#
# Options and environment: see test/common.sh or `bash ./test/train_finetune_1p.sh --help`.
MIPNET_SCRIPT=train_finetune_1p
MIPNET_MODE=train
MIPNET_DEFAULT_DISTRIBUTED=0
MIPNET_DEFAULT_PERF=0
MIPNET_REQUIRE_PTH=1
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mipnet_launch "$@"
