#!/usr/bin/env bash
# Shared code of the Ascend model-zoo style launchers in test/. Not run directly: each
# launcher sets its defaults and calls `mipnet_launch "$@"`:
#
#   MIPNET_SCRIPT=train_full_8p MIPNET_MODE=train MIPNET_DEFAULT_DISTRIBUTED=1 \
#   MIPNET_DEFAULT_PERF=0; source test/common.sh; mipnet_launch "$@"
#
# Options (both --opt=value and --opt value; dashes or underscores):
#   --data_path DIR       COCO root (train2017/ val2017/ [or images/<set>/] annotations/)
#   --cfg FILE            experiment YAML (default experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml)
#   --is_distributed 0|1  1: torchrun over --nproc devices, 0: one process
#   --nproc N             processes (devices) per node (default 8 when distributed;
#                         env NPROC_PER_NODE also sets it)
#   --perf 0|1            1: performance mode (tools/train.py --max_steps PERF_STEPS, no validation)
#   --perf_steps N        steps of a performance run (default 781, the Ascend port's 8p epoch;
#                         env PERF_STEPS)
#   --amp 0|1             mixed precision (TRAIN.AMP); default 1 on NPU/GPU (as the Ascend
#                         port's apex O1), 0 on CPU
#   --baseline 0|1        1: train the HRNet baseline (pose_hrnet) as the Ascend port does:
#                         experiments/<dataset>/baseline/<name> for an experiments/<dataset>/
#                         hrnet/<name> config (the default: coco/baseline/w48_384x288), else
#                         MODEL.NAME pose_hrnet
#   --workers N           data-loader workers per device (WORKERS)
#   --image_cache DIR     decoded-image cache of tools/cache_images.py (DATASET.IMAGE_CACHE)
#   --epochs N            train N epochs (TRAIN.END_EPOCH; a TRAIN.END_EPOCH override wins);
#                         default: the config's, 5 for train_finetune_1p.sh
#   --check_point FILE    resume the full training state from FILE
#   --pth_path FILE       start from FILE's weights (TRAIN.INIT_CHECKPOINT: this port's, the
#                         reference's or the Ascend port's checkpoint; λ blocks an HRNet file
#                         lacks stay initialised); eval: the checkpoint to evaluate
#   --local_rank N        device index of a single-process run (default $ASCEND_DEVICE_ID)
#   --device D            auto|npu|cuda|cpu (default: DEVICE of the config, auto = npu > cuda > cpu)
#   KEY VALUE ...         config overrides passed through to tools/train.py / tools/test.py
#
# Environment: ASCEND_DEVICE_ID (log folder and single-process device, default 0),
# NNODES / NODE_RANK / MASTER_ADDR / MASTER_PORT (multi-node torchrun), PYTHON (interpreter),
# TEST_OUTPUT_DIR (default test/output), FPS_SKIP_LINES (default 1: the first logged step),
# PERF_PRINT_FREQ (log interval of a performance run; default PRINT_FREQ of the config),
# TAIL_LINES (default 40).
#
# Relative paths inside the config and the KEY VALUE overrides are relative to the
# repository root (the launchers run from there); --data_path, --cfg, --check_point and
# --pth_path are resolved against the current directory first.
#
# Batch: a config with TRAIN.GLOBAL_BATCH_SIZE > 0 (the MIPNet configs: the reference's GPUS x
# BATCH_SIZE_PER_GPU) trains that many boxes per step, split over the processes (rounded, with
# a note, when it does not divide); a TRAIN.BATCH_SIZE_PER_GPU override wins. --baseline 1
# keeps the per-device batch of the baseline config (24: the Ascend port's).

set -o pipefail

MIPNET_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIPNET_DEFAULT_CFG=experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml
MIPNET_DEFAULT_BASELINE_CFG=experiments/coco/baseline/w48_384x288_adam_lr1e-3.yaml

mipnet_die() {
    echo "error: $*" >&2
    exit 1
}

mipnet_usage() {
    local defaults="is_distributed=${MIPNET_DEFAULT_DISTRIBUTED} perf=${MIPNET_DEFAULT_PERF}"
    defaults+=" mode=${MIPNET_MODE}${MIPNET_DEFAULT_EPOCHS:+ epochs=$MIPNET_DEFAULT_EPOCHS}"
    cat <<EOF
usage: bash test/${MIPNET_SCRIPT}.sh --data_path=DIR [--cfg FILE] [--is_distributed 0|1]
       [--nproc N] [--perf 0|1] [--perf_steps N] [--amp 0|1] [--baseline 0|1] [--workers N]
       [--image_cache DIR] [--epochs N] [--check_point FILE] [--pth_path FILE]
       [--local_rank N] [--device auto|npu|cuda|cpu] [KEY VALUE ...]

Defaults of this script: ${defaults}
--data_path is a COCO root: train2017/ val2017/ (or images/<set>/) and
annotations/person_keypoints_<set>.json, <set> being DATASET.TRAIN_SET / TEST_SET of --cfg.
See the header of test/common.sh and README.md ("Launchers") for details.
EOF
}

# Pick the interpreter: $PYTHON, the active virtualenv, the repository's .venv, python3.
mipnet_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
    elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
        echo "$VIRTUAL_ENV/bin/python"
    elif [ -x "$MIPNET_REPO_ROOT/.venv/bin/python" ]; then
        echo "$MIPNET_REPO_ROOT/.venv/bin/python"
    elif command -v python3 >/dev/null 2>&1; then
        command -v python3
    else
        command -v python || echo python
    fi
}

mipnet_abspath() {
    case $1 in
        /*) echo "$1" ;;
        *) echo "$MIPNET_CALLER_DIR/$1" ;;
    esac
}

mipnet_check_uint() {  # label value [min]
    [[ $2 =~ ^[0-9]+$ ]] || mipnet_die "$1 must be a non-negative integer, got '$2'"
    if [ -n "${3:-}" ] && [ "$2" -lt "$3" ]; then
        mipnet_die "$1 must be at least $3, got $2"
    fi
}

mipnet_parse_args() {
    MIPNET_OVERRIDES=()
    DATA_PATH='' CFG='' LOCAL_RANK_OPT='' CHECK_POINT='' PTH_PATH='' DEVICE_OPT='' AMP='' WORKERS=''
    IMAGE_CACHE=''
    EPOCHS=${MIPNET_DEFAULT_EPOCHS:-}
    BASELINE=0
    IS_DISTRIBUTED=$MIPNET_DEFAULT_DISTRIBUTED
    PERF=$MIPNET_DEFAULT_PERF
    # The Ascend port's performance run is one epoch of COCO train2017: 781 steps on 8
    # devices with 24 boxes each, logged every PRINT_FREQ (100) steps.
    PERF_STEPS=${PERF_STEPS:-781}
    NPROC=${NPROC_PER_NODE:-}
    local arg key val
    while (($#)); do
        arg=$1
        # The value of a KEY VALUE override may look like an option (e.g. SEED -1).
        if (( ${#MIPNET_OVERRIDES[@]} % 2 == 1 )); then
            MIPNET_OVERRIDES+=("$arg")
            shift
            continue
        fi
        case $arg in
            -h|--help) mipnet_usage; exit 0 ;;
            --) shift; MIPNET_OVERRIDES+=("$@"); break ;;
            --*=*) key=${arg%%=*}; val=${arg#*=}; shift ;;
            --?*)
                key=$arg
                if (($# < 2)) || [[ $2 == --* ]]; then
                    mipnet_die "option $key needs a value (see --help)"
                fi
                val=$2
                shift 2 ;;
            -*) mipnet_die "unknown option '$arg' (see --help)" ;;
            *) MIPNET_OVERRIDES+=("$arg"); shift; continue ;;
        esac
        key=${key#--}
        key=${key//-/_}
        case $key in
            data_path) DATA_PATH=$val ;;
            cfg) CFG=$val ;;
            local_rank) LOCAL_RANK_OPT=$val ;;
            is_distributed) IS_DISTRIBUTED=$val ;;
            perf) PERF=$val ;;
            perf_steps|max_steps) PERF_STEPS=$val ;;
            check_point|resume) CHECK_POINT=$val ;;
            pth_path) PTH_PATH=$val ;;
            nproc|nproc_per_node) NPROC=$val ;;
            device) DEVICE_OPT=$val ;;
            amp) AMP=$val ;;
            baseline) BASELINE=$val ;;
            workers) WORKERS=$val ;;
            image_cache) IMAGE_CACHE=$val ;;
            epochs) EPOCHS=$val ;;
            *) mipnet_die "unknown option '--$key' (see --help)" ;;
        esac
    done
    if (( ${#MIPNET_OVERRIDES[@]} % 2 == 1 )); then
        mipnet_die "config overrides must be KEY VALUE pairs; '${MIPNET_OVERRIDES[-1]}' has no value"
    fi
}

mipnet_validate_args() {
    [ -n "$DATA_PATH" ] || mipnet_die "--data_path is required (a COCO root with" \
        "train2017/, val2017/ and annotations/; e.g. --data_path=/data/coco)"
    DATA_PATH=$(mipnet_abspath "$DATA_PATH")
    [ -d "$DATA_PATH" ] || mipnet_die "--data_path $DATA_PATH is not a directory" \
        "(expected a COCO root with train2017/, val2017/ and annotations/)"
    case $IS_DISTRIBUTED in 0|1) ;; *) mipnet_die "--is_distributed must be 0 or 1, got '$IS_DISTRIBUTED'" ;; esac
    case $PERF in 0|1) ;; *) mipnet_die "--perf must be 0 or 1, got '$PERF'" ;; esac
    case ${AMP:-0} in 0|1) ;; *) mipnet_die "--amp must be 0 or 1, got '$AMP'" ;; esac
    case $BASELINE in 0|1) ;; *) mipnet_die "--baseline must be 0 or 1, got '$BASELINE'" ;; esac
    [ -z "$WORKERS" ] || mipnet_check_uint --workers "$WORKERS"
    if [ -n "$IMAGE_CACHE" ]; then
        IMAGE_CACHE=$(mipnet_abspath "$IMAGE_CACHE")
        [ -f "$IMAGE_CACHE/index.json" ] || mipnet_die "--image_cache $IMAGE_CACHE holds no" \
            "image cache (index.json); build it with: python tools/cache_images.py --cfg <config>" \
            "--data_path <root> --out $(printf '%q' "$IMAGE_CACHE")"
        MIPNET_OVERRIDES+=(DATASET.IMAGE_CACHE "$IMAGE_CACHE")
    fi
    mipnet_check_uint --perf_steps "$PERF_STEPS" 1
    [ -z "$EPOCHS" ] || mipnet_check_uint --epochs "$EPOCHS" 1
    if [ -n "$NPROC" ]; then
        mipnet_check_uint --nproc "$NPROC" 1
        # An explicit process count above one means a torchrun launch.
        [ "$NPROC" -gt 1 ] && IS_DISTRIBUTED=1
    elif [ "$IS_DISTRIBUTED" = 1 ]; then
        NPROC=8
    else
        NPROC=1
    fi
    [ -z "$LOCAL_RANK_OPT" ] || mipnet_check_uint --local_rank "$LOCAL_RANK_OPT"
    case ${DEVICE_OPT:-auto} in auto|npu|cuda|cpu) ;; *)
        mipnet_die "--device must be auto, npu, cuda or cpu, got '$DEVICE_OPT'" ;; esac
    [ "$DEVICE_OPT" = auto ] && DEVICE_OPT=''

    if [ -z "$CFG" ]; then
        CFG=$MIPNET_REPO_ROOT/$MIPNET_DEFAULT_CFG
        [ "$BASELINE" = 1 ] && CFG=$MIPNET_REPO_ROOT/$MIPNET_DEFAULT_BASELINE_CFG
    elif [ -f "$(mipnet_abspath "$CFG")" ]; then
        CFG=$(mipnet_abspath "$CFG")
    elif [ -f "$MIPNET_REPO_ROOT/$CFG" ]; then
        CFG=$MIPNET_REPO_ROOT/$CFG
    else
        mipnet_die "--cfg $CFG: config file not found"
    fi
    if [ "$BASELINE" = 1 ]; then
        # The baseline counterpart of a MIPNet config; other configs get MODEL.NAME pose_hrnet.
        local counterpart=${CFG/\/hrnet\//\/baseline\/}
        if [ "$counterpart" != "$CFG" ] && [ -f "$counterpart" ]; then
            CFG=$counterpart
        else
            # The baseline trains with the config's per-device batch (as the Ascend port).
            MIPNET_OVERRIDES=(MODEL.NAME pose_hrnet TRAIN.GLOBAL_BATCH_SIZE 0
                              "${MIPNET_OVERRIDES[@]}")
        fi
    fi
    if [ -n "$CHECK_POINT" ]; then
        CHECK_POINT=$(mipnet_abspath "$CHECK_POINT")
        [ -f "$CHECK_POINT" ] || mipnet_die "--check_point $CHECK_POINT: file not found"
    fi
    if [ "${MIPNET_REQUIRE_PTH:-0}" = 1 ] && [ -z "$PTH_PATH" ]; then
        mipnet_die "--pth_path is required by ${MIPNET_SCRIPT}.sh (the checkpoint to" \
            "$([ "$MIPNET_MODE" = eval ] && echo evaluate || echo fine-tune from))"
    fi
    if [ -n "$PTH_PATH" ]; then
        PTH_PATH=$(mipnet_abspath "$PTH_PATH")
        [ -f "$PTH_PATH" ] || mipnet_die "--pth_path $PTH_PATH: file not found"
    fi
    if [ "$MIPNET_MODE" = train ]; then
        # In front of the KEY VALUE overrides (which win), and seen by the probe.
        [ -n "$EPOCHS" ] && MIPNET_OVERRIDES=(TRAIN.END_EPOCH "$EPOCHS" "${MIPNET_OVERRIDES[@]}")
        # Training starts from FILE's weights (tools/train.py --init_checkpoint): a
        # TEST.MODEL_FILE of the config, which would win, is cleared.
        [ -n "$PTH_PATH" ] && MIPNET_OVERRIDES=(TEST.MODEL_FILE '' TRAIN.INIT_CHECKPOINT
                                                "$PTH_PATH" "${MIPNET_OVERRIDES[@]}")
    fi
}

# One Python call: load the config with the overrides (so they are honoured), check the
# dataset layout for the splits the run reads, pick the device and a free port. Prints
# shell assignments CFG_*=...; prints one `error:` line and exits 1 on a problem.
read -r -d '' MIPNET_PROBE_PY <<'PYEOF' || true
import importlib.util, os, shlex, socket, sys

def fail(msg):
    print(f'error: {msg}', file=sys.stderr)
    sys.exit(1)

try:
    from mipnet.config import ConfigError, load_config, run_output_dir
except ImportError as exc:
    fail(f'cannot import mipnet with {sys.executable} ({exc}); install the project '
         '(pip install -e .) or set PYTHON to the interpreter that has it')
cfg_file, root, splits, device_opt, *opts = sys.argv[1:]
try:
    cfg = load_config(cfg_file, opts + ['DATASET.ROOT', root])
    out_dir = run_output_dir(cfg, cfg_file)
except ConfigError as exc:
    fail(exc)
from mipnet.data import DATASETS

train_set, test_set = cfg.DATASET.TRAIN_SET, cfg.DATASET.TEST_SET


def missing_files(cfg, splits):
    """Annotation files and image folders of ``splits`` absent under ``root``."""
    missing = []
    for split in filter(None, splits.split(',')):
        image_set = cfg.DATASET[f'{split}_SET']
        name = cfg.DATASET[f'{split}_DATASET']
        if name not in DATASETS:
            fail(f'DATASET.{split}_DATASET = {name!r} is not a registered dataset; valid: '
                 f'{", ".join(sorted(DATASETS))}')
        patterns = getattr(DATASETS[name], 'annotation_patterns',
                           ('annotations/person_keypoints_{}.json',))
        ann = cfg.DATASET[f'{split}_ANNOTATION_FILE']
        if ann:
            if not os.path.isfile(ann):
                missing.append(f'{ann} (DATASET.{split}_ANNOTATION_FILE)')
        else:
            tried = [os.path.join(root, p.format(image_set)) for p in patterns]
            if not any(os.path.isfile(p) for p in tried):
                missing.append(tried[0])
        images = cfg.DATASET[f'{split}_IMAGE_DIR']
        if images:
            if not os.path.isdir(images):
                missing.append(f'{images}/ (DATASET.{split}_IMAGE_DIR)')
        else:
            tried = [os.path.join(root, image_set), os.path.join(root, 'images', image_set)]
            if not any(os.path.isdir(p) for p in tried):
                missing.append(tried[0] + '/')
    return missing


_joint_counts = {}


def joints_in(other):
    """Keypoints per person in the annotation file of the (smaller) test set of config
    ``other`` under ``root``; None when unknown."""
    import json
    name, image_set = other.DATASET.TEST_DATASET, other.DATASET.TEST_SET
    patterns = getattr(DATASETS.get(name), 'annotation_patterns',
                       ('annotations/person_keypoints_{}.json',))
    paths = [other.DATASET.TEST_ANNOTATION_FILE] if other.DATASET.TEST_ANNOTATION_FILE else \
        [os.path.join(root, p.format(image_set)) for p in patterns]
    path = next((p for p in paths if os.path.isfile(p)), None)
    if path not in _joint_counts:
        count = None
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
            for ann in data.get('annotations', ()):
                if isinstance(ann.get('keypoints'), list):
                    count = len(ann['keypoints']) // 3
                    break
        except (OSError, TypeError, ValueError, AttributeError):
            pass
        _joint_counts[path] = count
    return _joint_counts[path]


def fitting_configs(splits):
    """Shipped configs whose sets of ``splits`` are all under ``root``, with the joint count
    of its annotations: configs of the same MODEL.NAME first."""
    import glob
    fits = []
    for path in sorted(glob.glob(os.path.join('experiments', '**', '*.yaml'), recursive=True)):
        try:
            other = load_config(path, ['DATASET.ROOT', root])
        except ConfigError:
            continue
        if not missing_files(other, splits) and joints_in(other) in (None,
                                                                      other.MODEL.NUM_JOINTS):
            fits.append((other.MODEL.NAME != cfg.MODEL.NAME, path))
    return [path for _, path in sorted(fits)]


missing = missing_files(cfg, splits)
if missing:
    fits = [p for p in fitting_configs(splits)
            if os.path.abspath(p) != os.path.abspath(cfg_file)]
    hint = ''
    if fits:
        more = f' (or {", ".join(fits[1:3])}{", ..." if len(fits) > 3 else ""})' \
            if len(fits) > 1 else ''
        hint = (f'. --data_path holds the sets of other configs: pass --cfg {fits[0]}'
                f'{more}')
    fail(f'{", ".join(missing)} not found (expected a COCO root with {train_set}/ and '
         f'{test_set}/ (or images/<set>/) and annotations/person_keypoints_'
         f'{{{train_set},{test_set}}}.json; the set names are DATASET.TRAIN_SET / '
         f'DATASET.TEST_SET of {os.path.basename(cfg_file)}){hint}')

extra = []
if 'TEST' in splits and not cfg.TEST.USE_GT_BBOX and cfg.TEST.COCO_BBOX_FILE \
        and not os.path.isfile(cfg.TEST.COCO_BBOX_FILE):
    bbox = cfg.TEST.COCO_BBOX_FILE
    # Reference configs name data/<dataset>/person_detection_results/<file>; look for it
    # under --data_path too.
    beside = os.path.join(root, 'person_detection_results', os.path.basename(bbox))
    if os.path.isabs(bbox) or not os.path.isfile(beside):
        fail(f'TEST.COCO_BBOX_FILE {bbox} not found (TEST.USE_GT_BBOX is false, so validation '
             f'needs person detections): put the file there or at {beside}, pass '
             'TEST.COCO_BBOX_FILE FILE, or validate with ground-truth boxes: '
             'TEST.USE_GT_BBOX true')
    extra += ['TEST.COCO_BBOX_FILE', beside]
init = cfg.TRAIN.INIT_CHECKPOINT
# A resumed run (--check_point, or AUTO_RESUME with a checkpoint) does not read it.
resuming = os.environ.get('MIPNET_RESUMING') == '1' or (
    cfg.AUTO_RESUME and os.path.isfile(os.path.join(out_dir, 'checkpoint.pth')))
model_file = cfg.TEST.MODEL_FILE
if 'TRAIN' in splits and model_file and not resuming and not model_file.startswith('zoo:') \
        and not os.path.isfile(model_file):
    # Training starts from TEST.MODEL_FILE, as the reference's training script does.
    fail(f'TEST.MODEL_FILE {model_file} not found (relative paths start at the repository '
         'root): training starts from its weights, as the reference\'s training script does')
# zoo:NAME values are downloaded and verified by the run itself (mipnet.zoo).
if 'TRAIN' in splits and init and not model_file and not resuming \
        and not init.startswith('zoo:') and not os.path.isfile(init):
    fail(f'TRAIN.INIT_CHECKPOINT {init} not found (relative paths start at the repository '
         'root): the MIPNet recipe starts from the COCO-trained HRNet checkpoint of the '
         'reference (README, "Reproducing the reference"); put it there, or pass '
         'TRAIN.INIT_CHECKPOINT "" to start from MODEL.PRETRAINED (ImageNet) instead')
if 'TRAIN' in splits and not init and cfg.MODEL.INIT_WEIGHTS and cfg.MODEL.PRETRAINED \
        and not cfg.MODEL.PRETRAINED.startswith('zoo:') and not os.path.isfile(cfg.MODEL.PRETRAINED):
    fail(f'MODEL.PRETRAINED {cfg.MODEL.PRETRAINED} not found (relative paths start at the '
         'repository root): download the ImageNet-pretrained HRNet weights there (README, '
         '"Pretrained weights"), or pass MODEL.PRETRAINED "" to train from scratch')
print('CFG_EXTRA_OPTS=(' + ' '.join(map(shlex.quote, extra)) + ')')

device = device_opt or ('' if cfg.DEVICE == 'auto' else cfg.DEVICE)
count = 0
import torch
if device in ('', 'npu') and importlib.util.find_spec('torch_npu') is not None:
    try:
        import torch_npu  # noqa: F401
        if torch.npu.is_available():
            device, count = 'npu', torch.npu.device_count()
    except Exception as exc:  # broken CANN environment
        if device == 'npu':
            fail(f'torch_npu could not start ({exc}); check the CANN set-up (test/env_npu.sh)')
if device == 'npu' and not count:
    fail('DEVICE npu requested but torch_npu is not installed or no NPU is visible')
if device in ('', 'cuda'):
    if torch.cuda.is_available():
        device, count = 'cuda', torch.cuda.device_count()
    elif device == 'cuda':
        fail('DEVICE cuda requested but no CUDA device is visible')
if device in ('', 'cpu'):
    device, count = 'cpu', len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') \
        else (os.cpu_count() or 1)
with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
values = dict(DEVICE=device, DEVICE_COUNT=count, FREE_PORT=port, TRAIN_SET=train_set,
              TEST_SET=test_set, BATCH_SIZE=cfg.TRAIN.BATCH_SIZE_PER_GPU,
              TEST_BATCH_SIZE=cfg.TEST.BATCH_SIZE_PER_GPU, RUN_OUTPUT_DIR=out_dir,
              DATASET=cfg.DATASET.DATASET, MODEL=cfg.MODEL.NAME, END_EPOCH=cfg.TRAIN.END_EPOCH,
              AMP=int(bool(cfg.TRAIN.AMP)), GLOBAL_BATCH=cfg.TRAIN.GLOBAL_BATCH_SIZE,
              LR=f'{cfg.TRAIN.LR:g}')
for key, value in values.items():
    print(f'CFG_{key}={shlex.quote(str(value))}')
PYEOF

mipnet_probe() {
    local splits=TRAIN,TEST out
    [ "$MIPNET_MODE" = eval ] && splits=TEST
    # Performance mode skips validation: only the training split is read.
    [ "$MIPNET_MODE" = train ] && [ "$PERF" = 1 ] && splits=TRAIN
    out=$(MIPNET_RESUMING=$([ -n "$CHECK_POINT" ] && echo 1) \
        "$MIPNET_PY" -c "$MIPNET_PROBE_PY" "$CFG" "$DATA_PATH" "$splits" "$DEVICE_OPT" \
        "${MIPNET_OVERRIDES[@]}") || exit 1
    eval "$out"
    if (( ${#CFG_EXTRA_OPTS[@]} )); then
        echo "note: adding ${CFG_EXTRA_OPTS[*]} (found under --data_path)"
        MIPNET_OVERRIDES+=("${CFG_EXTRA_OPTS[@]}")
    fi
}

# The batch of a step, by the rule of mipnet.engine.batch.plan_batch: TRAIN.GLOBAL_BATCH_SIZE
# split over RANK_SIZE processes (rounded half up, at least 1), else TRAIN.BATCH_SIZE_PER_GPU.
# Sets BATCH_PER_DEVICE, BATCH_GLOBAL, BATCH_SOURCE and RUN_LINE.
mipnet_batch_plan() {
    BATCH_PER_DEVICE=$CFG_BATCH_SIZE
    BATCH_SOURCE=TRAIN.BATCH_SIZE_PER_GPU
    if [ "$CFG_GLOBAL_BATCH" -gt 0 ]; then
        BATCH_PER_DEVICE=$(( (2 * CFG_GLOBAL_BATCH + RANK_SIZE) / (2 * RANK_SIZE) ))
        [ "$BATCH_PER_DEVICE" -ge 1 ] || BATCH_PER_DEVICE=1
        BATCH_SOURCE="TRAIN.GLOBAL_BATCH_SIZE $CFG_GLOBAL_BATCH"
    fi
    BATCH_GLOBAL=$(( BATCH_PER_DEVICE * RANK_SIZE ))
    BATCH_NOTE=''
    if [ "$CFG_GLOBAL_BATCH" -gt 0 ] && [ "$BATCH_GLOBAL" -ne "$CFG_GLOBAL_BATCH" ]; then
        BATCH_NOTE="note: TRAIN.GLOBAL_BATCH_SIZE $CFG_GLOBAL_BATCH does not divide over"
        BATCH_NOTE+=" $RANK_SIZE processes: $BATCH_PER_DEVICE boxes per device, $BATCH_GLOBAL"
        BATCH_NOTE+=" per step (pass TRAIN.BATCH_SIZE_PER_GPU to choose the per-device batch"
        BATCH_NOTE+=" instead)"
    fi
    PRECISION=fp32
    if [ "$AMP" = 1 ]; then
        PRECISION='AMP float16'
        [ "$CFG_DEVICE" = cpu ] && PRECISION='AMP bfloat16'
    fi
    RUN_LINE="world size $RANK_SIZE, batch $BATCH_PER_DEVICE per device x $RANK_SIZE ="
    RUN_LINE+=" $BATCH_GLOBAL global ($BATCH_SOURCE), LR $CFG_LR, precision $PRECISION"
}

mipnet_build_command() {
    local script=tools/train.py
    [ "$MIPNET_MODE" = eval ] && script=tools/test.py
    local args=("$script" --cfg "$CFG" --data_path "$DATA_PATH" --device "$CFG_DEVICE"
                --is_distributed "$IS_DISTRIBUTED") opts=()
    [ -n "$WORKERS" ] && args+=(--workers "$WORKERS")
    if [ "$MIPNET_MODE" = train ]; then
        # Mixed precision as the Ascend port trains (apex O1): native AMP on NPU/GPU unless
        # --amp 0; fp32 on CPU unless --amp 1. A TRAIN.AMP override wins over both.
        local i
        for ((i = 0; i < ${#MIPNET_OVERRIDES[@]}; i += 2)); do
            [ "${MIPNET_OVERRIDES[i]}" = TRAIN.AMP ] && AMP=$CFG_AMP
        done
        if [ -z "$AMP" ]; then
            AMP=1
            [ "$CFG_DEVICE" = cpu ] && AMP=0
        fi
        opts+=(TRAIN.AMP "$([ "$AMP" = 1 ] && echo True || echo False)")
        # A performance run starts fresh: AUTO_RESUME (on in the reference configs) would
        # pick up the checkpoint of an earlier full run in the same folder (KEY VALUE
        # overrides given on the command line come later and win).
        [ "$PERF" = 1 ] && args+=(--max_steps "$PERF_STEPS") && opts+=(AUTO_RESUME False)
        # FPS averages the logged speeds; PERF_PRINT_FREQ logs more often than PRINT_FREQ.
        [ "$PERF" = 1 ] && [ -n "${PERF_PRINT_FREQ:-}" ] && opts+=(PRINT_FREQ "$PERF_PRINT_FREQ")
        [ -n "$CHECK_POINT" ] && args+=(--check_point "$CHECK_POINT")
    else
        args+=(--pth_path "$PTH_PATH")
    fi
    NNODES=${NNODES:-1}
    NODE_RANK=${NODE_RANK:-0}
    mipnet_check_uint NNODES "$NNODES" 1
    if [ "$IS_DISTRIBUTED" = 1 ] && [ "$CFG_DEVICE" = cpu ] && [ "$NPROC" -gt "$CFG_DEVICE_COUNT" ]; then
        # More CPU ranks than cores only makes every rank wait for the others.
        echo "note: --nproc $NPROC capped to $CFG_DEVICE_COUNT, the CPU cores available here" \
             "(pass --nproc to choose fewer)"
        NPROC=$CFG_DEVICE_COUNT
    fi
    RANK_SIZE=$(( NPROC * NNODES ))
    [ "$MIPNET_MODE" = train ] && mipnet_batch_plan
    if [ "$IS_DISTRIBUTED" = 1 ]; then
        if [ "$CFG_DEVICE" != cpu ] && [ "$NPROC" -gt "$CFG_DEVICE_COUNT" ]; then
            mipnet_die "--nproc $NPROC but only $CFG_DEVICE_COUNT $CFG_DEVICE device(s) are" \
                "visible; pass --nproc $CFG_DEVICE_COUNT (or fewer)"
        fi
        if [ "$NNODES" -gt 1 ]; then
            [ -n "${MASTER_ADDR:-}" ] || mipnet_die "NNODES=$NNODES needs MASTER_ADDR (the" \
                "address of node 0) and the same MASTER_PORT on every node"
            MASTER_PORT=${MASTER_PORT:-29500}
        else
            MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
            MASTER_PORT=${MASTER_PORT:-$CFG_FREE_PORT}
        fi
        RANK_LOG_DIR=$OUT_DIR/ranks
        # --tee 3: every worker's stdout/stderr also lands in RANK_LOG_DIR, so a failing
        # rank's own last lines can be shown.
        MIPNET_CMD=("$MIPNET_PY" -m torch.distributed.run --nnodes="$NNODES"
                    --node_rank="$NODE_RANK" --nproc_per_node="$NPROC"
                    --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT"
                    --log_dir="$RANK_LOG_DIR" --tee=3 "${args[@]}")
    else
        RANK_LOG_DIR=''
        MIPNET_CMD=("$MIPNET_PY" "${args[@]}" --local_rank "${LOCAL_RANK_OPT:-$ASCEND_DEVICE_ID}")
    fi
    MIPNET_CMD+=("${opts[@]}" "${MIPNET_OVERRIDES[@]}")
}

# Run MIPNET_CMD with its output on the console and in $LOG; forwards INT/TERM to it.
# Sets MIPNET_STATUS.
mipnet_run() {
    local tee_fd tee_pid child
    MIPNET_SIGNAL=''
    exec {tee_fd}> >(tee -a "$LOG")
    tee_pid=$!
    "${MIPNET_CMD[@]}" >&"$tee_fd" 2>&1 &
    child=$!
    # torchrun passes SIGTERM on to every rank and exits.
    trap 'MIPNET_SIGNAL=TERM; kill -TERM "$child" 2>/dev/null' TERM
    trap 'MIPNET_SIGNAL=INT; kill -TERM "$child" 2>/dev/null' INT
    trap 'MIPNET_SIGNAL=HUP; kill -TERM "$child" 2>/dev/null' HUP
    while true; do
        wait "$child"
        MIPNET_STATUS=$?
        kill -0 "$child" 2>/dev/null || break   # wait was interrupted by a signal
    done
    trap - TERM INT HUP
    exec {tee_fd}>&-
    local i
    for i in $(seq 100); do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.05; done
}

# The failing rank's last lines: torchrun's "Root Cause" names it; its own stdout/stderr
# are in RANK_LOG_DIR. Falls back to the tail of the combined log.
mipnet_report_failure() {
    local n=${TAIL_LINES:-40} shown=0 local_rank rank code f
    echo "error: ${MIPNET_SCRIPT}.sh failed (exit status $MIPNET_STATUS); log: $LOG" >&2
    if [ -n "$RANK_LOG_DIR" ] && [ -d "$RANK_LOG_DIR" ]; then
        read -r rank local_rank code < <(awk '/Root Cause/ {f = 1}
            f && /local_rank:/ {gsub(/[^0-9 ]/, " "); r = $1 " " $2}
            f && r && /exitcode/ {sub(/.*exitcode *: */, ""); print r, $1; exit}' "$LOG")
        if [ -n "$local_rank" ]; then
            # stdout first, the error output (stderr) last.
            for f in $(find "$RANK_LOG_DIR" -path "*/attempt_*/$local_rank/*.log" \
                       2>/dev/null | sort -r); do
                [ -s "$f" ] || continue
                echo "----- rank $rank (local rank $local_rank, exit code $code), last $n" \
                     "lines of $f -----" >&2
                tail -n "$n" "$f" >&2
                shown=1
            done
        fi
    fi
    if [ "$shown" = 0 ]; then
        echo "----- last $n lines of $LOG -----" >&2
        tail -n "$n" "$LOG" >&2
    fi
    echo "error: ${MIPNET_SCRIPT}.sh failed (exit status $MIPNET_STATUS)" >&2
}

# FPS the Ascend way: the mean of the logged `Speed X samples/s` values, skipping the first
# FPS_SKIP_LINES (default 1, the first step: start-up and compilation), fewer when the log is
# short. The engine's steady-state speed of a performance run is reported beside it.
mipnet_fps() {
    grep 'Epoch: \[' "$LOG" | sed -n 's/.*Speed \([0-9][0-9.]*\) samples\/s.*/\1/p' \
        | awk -v skip="${FPS_SKIP_LINES:-1}" '{v[NR] = $1}
            END {
                if (NR == 0) exit
                s = (NR > skip) ? skip : (NR > 1 ? 1 : 0)
                for (i = s + 1; i <= NR; i++) t += v[i]
                printf "%.2f\n", t / (NR - s)
            }'
}

mipnet_summary_train() {
    local fps loss ap step_ms case_name mode_tag=acc
    [ "$PERF" = 1 ] && mode_tag=perf
    fps=$(mipnet_fps)
    loss=$(sed -n 's/.*Loss \([-0-9.eE+naif]*\) (.*/\1/p' "$LOG" | tail -n 1)
    ap=$(sed -n 's/.*Final AP (merged instances): \([-0-9.naif]*\).*/\1/p' "$LOG" | tail -n 1)
    step_ms=$(awk -v b="$BATCH_PER_DEVICE" -v r="$RANK_SIZE" -v f="${fps:-0}" \
              'BEGIN {if (f > 0) printf "%.2f\n", b * r * 1000 / f; else print "N/A"}')
    local net=MIPNet
    [ "$CFG_MODEL" = pose_hrnet ] && net=HRNet
    case_name=${net}_bs${BATCH_PER_DEVICE}_${RANK_SIZE}p_${mode_tag}

    echo "------------------ Final result ------------------"
    echo "Model : $CFG_MODEL ($(basename "$CFG"), AMP $AMP)"
    echo "Run : $RUN_LINE"
    echo "Final Performance images/sec : ${fps:-N/A}"
    # The reference's MIPNet log counts the 2B samples of its duplicated batch.
    echo "FPS unit : person boxes per second over all devices (the reference MIPNet log" \
         "counts each box twice: its duplicated batch)"
    if [ "$PERF" = 1 ]; then
        local steady
        steady="$(sed -n 's/.*steady-state speed \([0-9][0-9.]*\) samples\/s.*/\1/p' "$LOG" |
            tail -n 1)"
        echo "Steady-state images/sec : ${steady:-N/A}"
    fi
    [ "$PERF" = 0 ] && echo "Final Train Accuracy : ${ap:-N/A}"
    echo "E2E Training Duration sec : $E2E_TIME"
    {
        echo "Network = ${NETWORK:-MIPNet_ID0000_for_PyTorch}"
        echo "Model = $CFG_MODEL"
        echo "Config = $CFG"
        echo "AMP = $AMP"
        echo "RankSize = $RANK_SIZE"
        echo "BatchSize = $BATCH_PER_DEVICE"
        echo "GlobalBatchSize = $BATCH_GLOBAL"
        echo "LR = $CFG_LR"
        echo "Precision = $PRECISION"
        echo "DeviceType = $(uname -m)"
        echo "Device = $CFG_DEVICE"
        echo "CaseName = $case_name"
        echo "ActualFPS = ${fps:-N/A}"
        echo "TrainingTime = $step_ms"
        [ "$PERF" = 0 ] && echo "TrainAccuracy = ${ap:-N/A}"
        echo "ActualLoss = ${loss:-N/A}"
        echo "E2ETrainingTime = $E2E_TIME"
    } > "$OUT_DIR/$case_name.log"
    sed -n 's/.*Loss \([-0-9.eE+naif]*\) (.*/\1/p' "$LOG" > "$OUT_DIR/train_${case_name}_loss.txt"
    echo "summary: $OUT_DIR/$case_name.log  checkpoints: $CFG_RUN_OUTPUT_DIR"
}

mipnet_summary_eval() {
    local metrics=$CFG_RUN_OUTPUT_DIR/metrics_${CFG_TEST_SET}.json
    echo "------------------ Final result ------------------"
    if [ -f "$metrics" ]; then
        "$MIPNET_PY" - "$metrics" <<'PYEOF'
import json, sys
metrics = json.load(open(sys.argv[1]))
for mode, values in metrics.items():
    print(f'Final Accuracy ({mode}) AP : {values["AP"]:.4f}')
PYEOF
    else
        echo "Final Accuracy : N/A (no $metrics)"
    fi
    echo "E2E Evaluation Duration sec : $E2E_TIME"
}

mipnet_launch() {
    local start_time
    start_time=$(date +%s)
    MIPNET_CALLER_DIR=$PWD
    mipnet_parse_args "$@"
    mipnet_validate_args
    cd "$MIPNET_REPO_ROOT" || mipnet_die "cannot enter $MIPNET_REPO_ROOT"
    # shellcheck source=test/env_npu.sh
    source "$MIPNET_REPO_ROOT/test/env_npu.sh"
    MIPNET_PY=$(mipnet_python)
    mipnet_probe

    ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
    OUT_DIR=${TEST_OUTPUT_DIR:-$MIPNET_REPO_ROOT/test/output}/$ASCEND_DEVICE_ID
    mkdir -p "$OUT_DIR" || mipnet_die "cannot create $OUT_DIR"
    LOG=$OUT_DIR/${MIPNET_MODE}_$ASCEND_DEVICE_ID.log
    mipnet_build_command
    [ -n "$RANK_LOG_DIR" ] && rm -rf "$RANK_LOG_DIR"
    : > "$LOG"
    export PYTHONUNBUFFERED=1

    echo "${MIPNET_SCRIPT}: device $CFG_DEVICE x $RANK_SIZE ($NNODES node(s)), cfg $CFG" \
         "| data $DATA_PATH | log $LOG" | tee -a "$LOG"
    if [ "$MIPNET_MODE" = train ]; then
        if [ "$PERF" = 1 ]; then
            echo "run: $RUN_LINE, $PERF_STEPS steps (performance mode)" | tee -a "$LOG"
        else
            echo "run: $RUN_LINE, epochs $CFG_END_EPOCH" | tee -a "$LOG"
        fi
        [ -n "$BATCH_NOTE" ] && echo "$BATCH_NOTE" | tee -a "$LOG"
    fi
    echo "command: ${MIPNET_CMD[*]}" | tee -a "$LOG"
    mipnet_run
    E2E_TIME=$(( $(date +%s) - start_time ))
    if [ -n "$MIPNET_SIGNAL" ]; then
        echo "error: ${MIPNET_SCRIPT}.sh interrupted by SIG$MIPNET_SIGNAL; the run was stopped" \
             "(log: $LOG)" >&2
        case $MIPNET_SIGNAL in HUP) exit 129 ;; INT) exit 130 ;; *) exit 143 ;; esac
    fi
    if [ "$MIPNET_STATUS" != 0 ]; then
        mipnet_report_failure
        exit "$MIPNET_STATUS"
    fi
    if [ "$MIPNET_MODE" = eval ]; then
        mipnet_summary_eval
    else
        mipnet_summary_train
    fi
}
