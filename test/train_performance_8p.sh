#!/usr/bin/env bash
# Performance run on 8 devices through torchrun: --max_steps $PERF_STEPS (default 781).
#
#   bash ./test/train_performance_8p.sh --data_path=/data/coco [options] [KEY VALUE ...]
#
# Options and environment: see test/common.sh or `bash ./test/train_performance_8p.sh --help`.
MIPNET_SCRIPT=train_performance_8p
MIPNET_MODE=train
MIPNET_DEFAULT_DISTRIBUTED=1
MIPNET_DEFAULT_PERF=1
MIPNET_REQUIRE_PTH=0
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mipnet_launch "$@"
