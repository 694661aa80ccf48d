#!/usr/bin/env bash
# Fine-tuning on one device: 5 epochs (as the Ascend port's train_epochs=5; --epochs N
# changes it) from the weights of --pth_path (TRAIN.INIT_CHECKPOINT: this port's, the
# reference's or the Ascend port's checkpoint; the log says what was loaded and what was left
# initialised).
#
#   bash ./test/train_finetune_1p.sh --data_path=/data/coco --pth_path=CHECKPOINT [options] [KEY VALUE ...]
#
# Options and environment: see test/common.sh or `bash ./test/train_finetune_1p.sh --help`.
MIPNET_SCRIPT=train_finetune_1p
MIPNET_MODE=train
MIPNET_DEFAULT_DISTRIBUTED=0
MIPNET_DEFAULT_PERF=0
MIPNET_REQUIRE_PTH=1
MIPNET_DEFAULT_EPOCHS=5
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mipnet_launch "$@"
