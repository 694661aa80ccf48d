#!/usr/bin/env bash
# Performance run on one device: tools/train.py --max_steps $PERF_STEPS (default 781), no validation.
#
#   bash ./test/train_performance_1p.sh --data_path=/data/coco [options] [KEY VALUE ...]
#
# Options and environment: see test/common.sh or `bash ./test/train_performance_1p.sh --help`.
MIPNET_SCRIPT=train_performance_1p
MIPNET_MODE=train
MIPNET_DEFAULT_DISTRIBUTED=0
MIPNET_DEFAULT_PERF=1
MIPNET_REQUIRE_PTH=0
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mipnet_launch "$@"
