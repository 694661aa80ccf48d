"""Default configuration.

Every key the reference HRNet / MIPNet experiment files use is declared here so that those
files load unmodified; keys the port adds are marked "(port)". yacs rejects any key that is
not declared, which turns a typo in a YAML file into an error naming the key.
"""
from yacs.config import CfgNode as CN

_C = CN()

# Root of all run outputs; a run writes to OUTPUT_DIR/<dataset>/<model>/<config-name>/.
_C.OUTPUT_DIR = 'output'
# Root of tensorboard logs, laid out like OUTPUT_DIR; '' = OUTPUT_DIR/log.
_C.LOG_DIR = ''
# Prefix joined to DATASET.ROOT, DATASET.IMAGE_CACHE, MODEL.PRETRAINED, TEST.MODEL_FILE and
# TRAIN.INIT_CHECKPOINT when they are relative.
_C.DATA_DIR = ''
# Data-loader worker processes per rank.
_C.WORKERS = 4
# Log a progress line every PRINT_FREQ steps.
_C.PRINT_FREQ = 20
# Resume from OUTPUT_DIR/.../checkpoint.pth when it exists.
_C.AUTO_RESUME = False
# Pin host memory for faster host-to-device copies (ignored on CPU).
_C.PIN_MEMORY = True
# Validate after epoch e (0-based) when e % EPOCH_EVAL_FREQ == 0, as the reference does, and
# always after the last epoch; 0 validates after the last epoch only.
_C.EPOCH_EVAL_FREQ = 10
# (port) Device: 'auto' picks npu, then cuda, then cpu.
_C.DEVICE = 'auto'
# Random seed (>= 0; the reference seeds with 0). Python, NumPy, torch and the sampler are
# re-seeded from (SEED, epoch, rank) every epoch.
_C.SEED = 0
# (port) Use deterministic algorithms (exact resume / reproducibility tests).
_C.DETERMINISTIC = False
# (port) Process-group timeout in seconds: a dead rank makes the others fail after this.
_C.DIST_TIMEOUT = 1800
# (port) Convert BatchNorm to SyncBatchNorm in distributed training.
_C.SYNC_BN = False

# cuDNN switches (also honoured for NPU/CPU where meaningful).
_C.CUDNN = CN()
# Let cuDNN pick the fastest convolution algorithms.
_C.CUDNN.BENCHMARK = True
# Force deterministic cuDNN kernels.
_C.CUDNN.DETERMINISTIC = False
# Use cuDNN at all.
_C.CUDNN.ENABLED = True

_C.MODEL = CN()
# Registered architecture: pose_hrnet (baseline) or pose_hrnet_se_lambda (MIPNet).
_C.MODEL.NAME = 'pose_hrnet'
# Initialise weights (normal std 0.001) and load MODEL.PRETRAINED when training.
_C.MODEL.INIT_WEIGHTS = True
# ImageNet-pretrained backbone file (filtered by EXTRA.PRETRAINED_LAYERS).
_C.MODEL.PRETRAINED = ''
# Joints per person (17 for COCO/OCHuman, 14 for CrowdPose).
_C.MODEL.NUM_JOINTS = 17
# Heatmap target type; only 'gaussian' is supported.
_C.MODEL.TARGET_TYPE = 'gaussian'
# Network input size [width, height].
_C.MODEL.IMAGE_SIZE = [256, 256]
# Output heatmap size [width, height] (a quarter of IMAGE_SIZE for HRNet).
_C.MODEL.HEATMAP_SIZE = [64, 64]
# Gaussian sigma of heatmap targets, in heatmap pixels.
_C.MODEL.SIGMA = 2
# Architecture details (HRNet STAGE2..4, FINAL_CONV_KERNEL, PRETRAINED_LAYERS); free-form.
_C.MODEL.EXTRA = CN(new_allowed=True)
# Where the lambda modulation blocks sit: [stage-2 input, stage-3 input, stage-4 input,
# stage-4 output]. Shorter lists (reference files) are padded with False.
_C.MODEL.SE_MODULES = [False, False, False, False]
# (port) Number of instances N per box (the length of the lambda one-hot vector).
_C.MODEL.NUM_INSTANCES = 2
# (port) Run the lambda-independent trunk once per box and only the lambda-dependent part
# per instance. False runs the reference way (whole network per instance) for comparison.
_C.MODEL.SHARED_TRUNK = True
# (port, beyond the reference) Identity start of the lambda blocks: each block computes
# x * 2·sigmoid(fc(x)) * 2·sigmoid(fc_lambda(λ)) and fresh blocks start with a zero last
# Linear, so a MIPNet initialised from HRNet weights returns HRNet's heatmaps for every λ
# before its first step. False is the reference form (x * sigmoid(·) * sigmoid(·)); the
# two compute different things from the same weights, so checkpoints record this flag.
_C.MODEL.LAMBDA_IDENTITY_START = False
# (port) Use channels_last memory format on accelerators.
_C.MODEL.CHANNELS_LAST = False

_C.LOSS = CN()
# Online hard keypoint mining: average only the TOPK largest joint losses per sample.
_C.LOSS.USE_OHKM = False
# Joints kept by OHKM.
_C.LOSS.TOPK = 8
# Mask each joint's loss by its target weight (0 for invisible joints).
_C.LOSS.USE_TARGET_WEIGHT = True
# Multiply target weights by the dataset's per-joint weights.
_C.LOSS.USE_DIFFERENT_JOINTS_WEIGHT = False
# λ models: loss weight of each instance (MODEL.NUM_INSTANCES values); empty = equal weights.
_C.LOSS.INSTANCE_WEIGHTS = []
# (port, beyond the reference) λ models: > 0 trains an HRNet (pose_hrnet, same widths) from
# TRAIN.INIT_CHECKPOINT alongside on the same batches and adds this weight times 0.5 * MSE
# of instance 0's heatmaps to the teacher's (no gradient into the teacher from it): a
# first-instance protection while fine-tuning from HRNet. 0 (default): off, the reference.
_C.LOSS.TEACHER_WEIGHT = 0.0

_C.DATASET = CN()
# Dataset name of the run (used in output paths): coco, crowdpose, ochuman.
_C.DATASET.DATASET = 'coco'
# Dataset root; images under images/<set>/ or <set>/, annotations under annotations/.
_C.DATASET.ROOT = ''
# Registered dataset for training (coco, crowdpose, ochuman); empty = DATASET.DATASET.
_C.DATASET.TRAIN_DATASET = ''
# Training split name.
_C.DATASET.TRAIN_SET = 'train2017'
# Explicit training image folder (overrides ROOT + TRAIN_SET).
_C.DATASET.TRAIN_IMAGE_DIR = ''
# Explicit training annotation file (overrides ROOT + TRAIN_SET).
_C.DATASET.TRAIN_ANNOTATION_FILE = ''
# Registered dataset for evaluation; empty = DATASET.DATASET.
_C.DATASET.TEST_DATASET = ''
# Evaluation split name.
_C.DATASET.TEST_SET = 'val2017'
# Explicit evaluation image folder.
_C.DATASET.TEST_IMAGE_DIR = ''
# Explicit evaluation annotation file.
_C.DATASET.TEST_ANNOTATION_FILE = ''
# Image file extension of the dataset.
_C.DATASET.DATA_FORMAT = 'jpg'
# Apply HRNet's keypoint-vs-box-center sample filter for training.
_C.DATASET.SELECT_DATA = False
# Random horizontal flip (with left/right joint swap) in training.
_C.DATASET.FLIP = True
# Scale jitter: scale *= clip(1 + N(0,1)*f, 1-f, 1+f).
_C.DATASET.SCALE_FACTOR = 0.25
# Rotation jitter in degrees: clip(N(0,1)*r, -2r, 2r), applied with probability 0.6.
_C.DATASET.ROT_FACTOR = 30
# Probability of a half-body crop in training.
_C.DATASET.PROB_HALF_BODY = 0.0
# A half-body crop needs more than this many visible joints.
_C.DATASET.NUM_JOINTS_HALF_BODY = 8
# Feed RGB (True) or BGR (False) images to the network.
_C.DATASET.COLOR_RGB = False
# (port) Skip (and count) unreadable images instead of failing.
_C.DATASET.SKIP_BROKEN_IMAGES = False
# (port) Decoded-image cache folder written by tools/cache_images.py: workers read the same
# pixels from a memory map instead of decoding JPEGs (mipnet.data.image_cache); '' = off.
_C.DATASET.IMAGE_CACHE = ''

_C.TRAIN = CN()
# Multiply the LR by LR_FACTOR at each epoch in LR_STEP.
_C.TRAIN.LR_FACTOR = 0.1
_C.TRAIN.LR_STEP = [90, 110]
# Base learning rate.
_C.TRAIN.LR = 0.001
# adam, adamw or sgd.
_C.TRAIN.OPTIMIZER = 'adam'
# SGD momentum.
_C.TRAIN.MOMENTUM = 0.9
# Weight decay of SGD and AdamW. Adam ignores it (the reference's get_optimizer passes WD to
# SGD only, and the Ascend port's NpuFusedAdam gets none) unless TRAIN.ADAM_WD is true.
_C.TRAIN.WD = 0.0001
# (port) Apply TRAIN.WD as L2 weight decay with Adam too (not the reference recipe).
_C.TRAIN.ADAM_WD = False
# (port) No weight decay on the λ MLPs (``fc_lambda``): they start at std 0.001 (reference
# init) with tiny gradients, and Adam's L2 decay can erase them in short schedules.
_C.TRAIN.NO_WD_LAMBDA = False
# SGD Nesterov momentum.
_C.TRAIN.NESTEROV = False
# First and last (exclusive) epoch.
_C.TRAIN.BEGIN_EPOCH = 0
_C.TRAIN.END_EPOCH = 140
# (port) Initialise the model from this HRNet or MIPNet checkpoint before training, as the
# reference MIPNet recipe starts from a COCO-trained HRNet (its TEST.MODEL_FILE in training):
# every tensor is loaded, the λ blocks an HRNet checkpoint lacks keep their initialisation;
# unknown keys and shape mismatches are refused. MODEL.PRETRAINED is not read then.
_C.TRAIN.INIT_CHECKPOINT = ''
# Resume from TRAIN.CHECKPOINT (full training state).
_C.TRAIN.RESUME = False
_C.TRAIN.CHECKPOINT = ''
# Boxes per device per step.
_C.TRAIN.BATCH_SIZE_PER_GPU = 32
# (port) Boxes per optimizer step over all processes: > 0 splits it over the processes
# (rounded, at least 1 per device) instead of BATCH_SIZE_PER_GPU, so the step keeps the
# reference's batch (its GPUS x BATCH_SIZE_PER_GPU, set in the MIPNet configs) on any device
# count. 0 = BATCH_SIZE_PER_GPU on every device. A BATCH_SIZE_PER_GPU override sets it to 0.
_C.TRAIN.GLOBAL_BATCH_SIZE = 0
# Shuffle training samples.
_C.TRAIN.SHUFFLE = True
# (port) Mixed precision: float16 + GradScaler on npu/cuda, bfloat16 on cpu.
_C.TRAIN.AMP = False
# (port) torch.compile (inductor) the training model; it runs eagerly, with one warning,
# when compiling fails. Checkpoints hold the same state_dict names either way.
_C.TRAIN.COMPILE = False
# (port) Performance mode: stop after this many steps (0 = no limit), skip validation.
_C.TRAIN.MAX_STEPS = 0
# (port) Clip gradient norm (0 = off).
_C.TRAIN.CLIP_GRAD_NORM = 0.0

_C.TEST = CN()
# Boxes per device per evaluation step.
_C.TEST.BATCH_SIZE_PER_GPU = 32
# (port) Boxes per evaluation / inference batch on the CPU (tools/test.py, validation,
# PoseInferencer, tools/demo.py), when smaller than TEST.BATCH_SIZE_PER_GPU (a GPU batch):
# W32 with flip ran 1.72x faster at 8 boxes than at 128 on a 2-core CPU, same heatmaps
# (docs/benchmarks.md). 0 uses TEST.BATCH_SIZE_PER_GPU there too.
_C.TEST.CPU_BATCH_SIZE = 8
# Average heatmaps with those of the horizontally flipped image.
_C.TEST.FLIP_TEST = False
# (port) Inference fast paths (mipnet.evaluation.inference.inference_model); each gives the
# eager model's heatmaps within 1e-4 of their maximum. BatchNorm folded into the layer
# before it, in a copy of the model (checkpoints keep their BatchNorm layers). On by default
# with TEST.CHANNELS_LAST: measured faster on the CPU (docs/benchmarks.md); false for both
# runs the network as the reference does.
_C.TEST.FUSE_BN = True
# (port) Inference on the CPU in channels_last memory format (accelerators follow
# MODEL.CHANNELS_LAST).
_C.TEST.CHANNELS_LAST = True
# (port) torch.compile (inductor, weights frozen into the graph) the inference model; the
# first batch of each new shape compiles (minutes on a CPU), then batches run faster. It
# runs eagerly, with one warning, when compiling fails.
_C.TEST.COMPILE = False
# Refine the argmax: True enables TEST.POST_PROCESS_TYPE.
_C.TEST.POST_PROCESS = False
# (port) 'quarter' (HRNet quarter-pixel shift) or 'dark' (Taylor refinement).
_C.TEST.POST_PROCESS_TYPE = 'quarter'
# Shift flipped heatmaps one pixel right before averaging.
_C.TEST.SHIFT_HEATMAP = False
# Evaluate on ground-truth boxes (True) or on TEST.COCO_BBOX_FILE detections (False).
_C.TEST.USE_GT_BBOX = False
# Minimum detection score kept.
_C.TEST.IMAGE_THRE = 0.1
# Soft OKS-NMS instead of hard OKS-NMS.
_C.TEST.SOFT_NMS = False
# OKS-NMS overlap threshold.
_C.TEST.OKS_THRE = 0.5
# Area that scales the OKS of OKS-NMS: 'box' (the padded box's, as in HRNet's reference) or
# 'pose' (the bounding box of the pose's own joints; a secondary instance's pose belongs to
# another person than its box).
_C.TEST.NMS_AREA = 'box'
# (port) Run OKS-NMS in CrowdPose evaluation too. The reference keeps every pose of every
# instance on CrowdPose (crowdpose.py evaluate_lambda: keep = []), so the default is off.
_C.TEST.CROWDPOSE_NMS = False
# Joints with confidence above this count towards the pose score.
_C.TEST.IN_VIS_THRE = 0.0
# COCO results file of person detections.
_C.TEST.COCO_BBOX_FILE = ''
# Checkpoint to evaluate (weights only).
_C.TEST.MODEL_FILE = ''
# (port) tools/test.py also prints and writes the crowd report (occluded subset, crowd-merged
# boxes, crowd-error rate, people found per instance; mipnet.engine.crowd_report); the flag
# --crowd-report sets it.
_C.TEST.CROWD_REPORT = False
# Box enlargement (HRNet's 1.25) of every evaluation box and of CrowdPose / OCHuman training
# boxes, as the reference's datasets read it; COCO training boxes keep a fixed 1.25 there.
_C.TEST.SCALE_THRE = 1.25
# Score multiplier of secondary instances (k >= 1) before OKS-NMS. A factor, not a
# threshold: the name is the reference's, kept so its experiment files load.
_C.TEST.DECAY_THRE = 0.5

_C.DEBUG = CN()
# Save debug images during training/validation.
_C.DEBUG.DEBUG = False
# Input crops with target joints.
_C.DEBUG.SAVE_BATCH_IMAGES_GT = False
# Input crops with predicted joints.
_C.DEBUG.SAVE_BATCH_IMAGES_PRED = False
# Target heatmap grids.
_C.DEBUG.SAVE_HEATMAPS_GT = False
# Predicted heatmap grids.
_C.DEBUG.SAVE_HEATMAPS_PRED = False

# Keys of the reference experiment files and launchers that nothing here reads. They are not
# part of the config: yacs ignores them, with a warning, when a YAML file sets them (and
# load_config warns about them as ``KEY VALUE`` overrides), so reference files load unmodified.
DEPRECATED_KEYS = (
    'GPUS',  # devices come from torchrun / DEVICE
    'RANK',  # ranks come from torchrun
    'MODEL.TAG_PER_JOINT',  # associative-embedding option of HRNet's bottom-up code
    'DATASET.TRAIN_DATASET_TYPE', 'DATASET.TEST_DATASET_TYPE',  # the registry picks the class
    'DATASET.HYBRID_JOINTS_TYPE',
    # synthetic-data variants of the reference
    'DATASET.SYNTHETIC_DATASET', 'DATASET.SYNTHETIC_ROOT', 'DATASET.SYNTHETIC_TRAIN_DATASET',
    'DATASET.SYNTHETIC_TRAIN_SET', 'DATASET.SYNTHETIC_TRAIN_IMAGE_DIR',
    'DATASET.SYNTHETIC_TRAIN_ANNOTATION_FILE', 'DATASET.SYNTHETIC_TRAIN_DATASET_TYPE',
    'DATASET.SYNTHETIC_TEST_DATASET', 'DATASET.SYNTHETIC_TEST_SET',
    'DATASET.SYNTHETIC_TEST_IMAGE_DIR', 'DATASET.SYNTHETIC_TEST_ANNOTATION_FILE',
    'DATASET.SYNTHETIC_TEST_DATASET_TYPE',
    'TRAIN.GAMMA1', 'TRAIN.GAMMA2',  # Adam betas in some forks; never passed to the optimizer
    'TEST.NMS_THRE',  # TEST.OKS_THRE is the OKS-NMS threshold
    'TEST.BBOX_THRE', 'TEST.BBOX_FRACTION',
)
for _key in DEPRECATED_KEYS:
    _C.register_deprecated_key(_key)


def default_config():
    """A fresh copy of the defaults of every key (yacs CfgNode)."""
    return _C.clone()
