#!/usr/bin/env bash
# Full (accuracy) training on 8 devices through torchrun (--nproc to change the count).
#
#   bash ./test/train_full_8p.sh --data_path=/data/coco [options] [KEY VALUE ...]
#
# Options and environment: see test/common.sh or `bash ./test/train_full_8p.sh --help`.
MIPNET_SCRIPT=train_full_8p
MIPNET_MODE=train
MIPNET_DEFAULT_DISTRIBUTED=1
MIPNET_DEFAULT_PERF=0
MIPNET_REQUIRE_PTH=0
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mipnet_launch "$@"
