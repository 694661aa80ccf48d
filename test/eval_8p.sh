#!/usr/bin/env bash
# Evaluate a checkpoint (--pth_path) on 8 devices through torchrun: AP of every instance and merged.
#
#   bash ./test/eval_8p.sh --data_path=/data/coco --pth_path=CHECKPOINT [options] [KEY VALUE ...]
#
# Options and environment: see test/common.sh or `bash ./test/eval_8p.sh --help`.
MIPNET_SCRIPT=eval_8p
MIPNET_MODE=eval
MIPNET_DEFAULT_DISTRIBUTED=1
MIPNET_DEFAULT_PERF=0
MIPNET_REQUIRE_PTH=1
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mipnet_launch "$@"
