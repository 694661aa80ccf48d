"""The shipped configs against the reference MIPNet files (values pinned here as literals; the
reference is not read at test time).

MODEL (but NAME / SE_MODULES), LOSS, TEST (but batch size and detection-file paths) and the
augmentation come from the reference YAML of the same name (experiments/{coco,crowdpose}/
hrnet/<name>.yaml); TRAIN, MODEL.NAME / SE_MODULES, the sets and TEST.BATCH_SIZE_PER_GPU come
from the reference training script's command-line overrides.
"""
import pytest

from mipnet.config import load_config
from tests.conftest import REPO

NAMES = ['w32_256x192', 'w32_384x288', 'w48_256x192', 'w48_384x288']

# Reference experiments/{coco,crowdpose}/hrnet/<name>_adam_lr1e-3.yaml, identical in every file.
REF_AUGMENTATION = {'FLIP': True, 'ROT_FACTOR': 45, 'SCALE_FACTOR': 0.35, 'PROB_HALF_BODY': 0.3,
                    'NUM_JOINTS_HALF_BODY': 8, 'COLOR_RGB': True}
REF_LOSS = {'USE_TARGET_WEIGHT': True, 'USE_OHKM': False, 'USE_DIFFERENT_JOINTS_WEIGHT': False}
REF_TEST = {'IMAGE_THRE': 0.0, 'IN_VIS_THRE': 0.2, 'MODEL_FILE': '', 'OKS_THRE': 0.9,
            'USE_GT_BBOX': True, 'FLIP_TEST': True, 'POST_PROCESS': True,
            'SHIFT_HEATMAP': True, 'DECAY_THRE': 0.5,  # default.py
            'SOFT_NMS': False}
# Keys of the reference TEST block that nothing reads: the files set them, the config drops
# them (mipnet.config.defaults.DEPRECATED_KEYS).
REF_TEST_IGNORED = ('BBOX_THRE', 'NMS_THRE')
# Reference YAML MODEL values that depend on the name.
REF_SIZE = {'256x192': ([192, 256], [48, 64], 2), '384x288': ([288, 384], [72, 96], 3)}
REF_WIDTH = {'w32': ([32, 64, 128, 256], 'models/pytorch/imagenet/hrnet_w32-36af842e.pth'),
             'w48': ([48, 96, 192, 384], 'models/pytorch/imagenet/hrnet_w48-8ef0771d.pth')}
# Reference YAML TRAIN block (all files; BATCH 24 for w48_384x288, else 32).
REF_YAML_TRAIN = {'OPTIMIZER': 'adam', 'LR': 0.001, 'LR_FACTOR': 0.1, 'LR_STEP': [170, 200],
                  'BEGIN_EPOCH': 0, 'END_EPOCH': 210, 'WD': 0.0001, 'SHUFFLE': True,
                  'MOMENTUM': 0.9, 'NESTEROV': False}

# scripts/train/lambda/coco/train.sh (the active W48 384x288 command; W32: its W32 command's
# 32 boxes per GPU and test batch 256): TRAIN.END_EPOCH 110, LR_STEP (70, 100), init from
# TEST.MODEL_FILE models/pytorch/pose_coco/pose_hrnet_<name>.pth.
COCO_MIPNET = {'END_EPOCH': 110, 'LR_STEP': [70, 100], 'BATCH': {'w32': 32, 'w48': 10},
               'TEST_BATCH': {'w32': 256, 'w48': 64}}
# scripts/train/lambda/crowdpose/train_lambda_real.sh: END_EPOCH 210 (YAML steps), sets
# train / val, 10 (W48) or 32 (W32) boxes per GPU, test batch 256.
CROWDPOSE_MIPNET = {'BATCH': {'w32': 32, 'w48': 10}}
# scripts/train/baseline/crowdpose/train.sh: 10 (W48) or 64 (W32) boxes per GPU.
CROWDPOSE_BASELINE = {'BATCH': {'w32': 64, 'w48': 10}}


def _load(rel):
    return load_config(str(REPO / 'experiments' / rel))


def _check_yaml_values(cfg, name, joints):
    width, size = name.split('_')
    image, heatmap, sigma = REF_SIZE[size]
    channels, pretrained = REF_WIDTH[width]
    assert list(cfg.MODEL.IMAGE_SIZE) == image and list(cfg.MODEL.HEATMAP_SIZE) == heatmap
    assert cfg.MODEL.SIGMA == sigma and cfg.MODEL.NUM_JOINTS == joints
    assert cfg.MODEL.EXTRA.STAGE4.NUM_CHANNELS == channels
    assert cfg.MODEL.PRETRAINED == pretrained and cfg.MODEL.INIT_WEIGHTS
    assert cfg.MODEL.EXTRA.FINAL_CONV_KERNEL == 1
    for key, value in REF_AUGMENTATION.items():
        assert cfg.DATASET[key] == value, key
    for key, value in REF_LOSS.items():
        assert cfg.LOSS[key] == value, key
    for key, value in REF_TEST.items():
        assert cfg.TEST[key] == value, key
    for key in REF_TEST_IGNORED:
        assert key not in cfg.TEST, key
    assert cfg.TRAIN.OPTIMIZER == 'adam' and cfg.TRAIN.LR == 0.001
    assert cfg.TRAIN.WD == 0.0001 and not cfg.TRAIN.ADAM_WD  # Adam undecayed, as get_optimizer
    assert cfg.TRAIN.AMP is False  # fp32, as the reference (the launchers decide AMP)
    assert cfg.PRINT_FREQ == 100 and cfg.WORKERS == 24


def _check_mipnet_model(cfg):
    assert cfg.MODEL.NAME == 'pose_hrnet_se_lambda'
    assert cfg.MODEL.SE_MODULES == [False, False, True, True] and cfg.MODEL.NUM_INSTANCES == 2


@pytest.mark.parametrize('name', NAMES)
def test_coco_mipnet_configs(name):
    cfg = _load(f'coco/hrnet/{name}_adam_lr1e-3.yaml')
    width, size = name.split('_')
    _check_yaml_values(cfg, name, 17)
    _check_mipnet_model(cfg)
    assert cfg.TRAIN.END_EPOCH == COCO_MIPNET['END_EPOCH']
    assert list(cfg.TRAIN.LR_STEP) == COCO_MIPNET['LR_STEP'] and cfg.TRAIN.BEGIN_EPOCH == 0
    assert cfg.TRAIN.BATCH_SIZE_PER_GPU == COCO_MIPNET['BATCH'][width]
    assert cfg.TEST.BATCH_SIZE_PER_GPU == COCO_MIPNET['TEST_BATCH'][width]
    assert cfg.TRAIN.INIT_CHECKPOINT == f'models/pytorch/pose_coco/pose_hrnet_{width}_{size}.pth'
    assert cfg.EPOCH_EVAL_FREQ == 1
    assert (cfg.DATASET.TRAIN_SET, cfg.DATASET.TEST_SET) == ('train2017', 'val2017')


@pytest.mark.parametrize('name', NAMES)
def test_ochuman_configs_train_the_coco_recipe(name):
    cfg = _load(f'ochuman/hrnet/{name}_adam_lr1e-3.yaml')
    coco = _load(f'coco/hrnet/{name}_adam_lr1e-3.yaml')
    _check_yaml_values(cfg, name, 17)
    _check_mipnet_model(cfg)
    assert cfg.TRAIN == coco.TRAIN and cfg.MODEL == coco.MODEL and cfg.TEST.USE_GT_BBOX
    assert cfg.DATASET.TRAIN_DATASET == 'coco' and cfg.DATASET.TEST_DATASET == 'ochuman'


@pytest.mark.parametrize('name', NAMES)
def test_coco_baseline_configs_are_the_reference_yaml(name):
    cfg = _load(f'coco/baseline/{name}_adam_lr1e-3.yaml')
    _check_yaml_values(cfg, name, 17)
    assert cfg.MODEL.NAME == 'pose_hrnet' and cfg.TRAIN.INIT_CHECKPOINT == ''
    for key, value in REF_YAML_TRAIN.items():
        got = list(cfg.TRAIN[key]) if key == 'LR_STEP' else cfg.TRAIN[key]
        assert got == value, key
    assert cfg.TRAIN.BATCH_SIZE_PER_GPU == (24 if name == 'w48_384x288' else 32)
    assert cfg.TEST.BATCH_SIZE_PER_GPU == (24 if name == 'w48_384x288' else 32)


@pytest.mark.parametrize('kind', ['hrnet', 'baseline'])
@pytest.mark.parametrize('name', NAMES)
def test_crowdpose_configs(name, kind):
    width = name.split('_')[0]
    cfg = _load(f'crowdpose/{kind}/{name}_adam_lr1e-3.yaml')
    _check_yaml_values(cfg, name, 14)
    if kind == 'hrnet':
        _check_mipnet_model(cfg)
        assert cfg.TRAIN.BATCH_SIZE_PER_GPU == CROWDPOSE_MIPNET['BATCH'][width]
    else:
        assert cfg.MODEL.NAME == 'pose_hrnet'
        assert cfg.TRAIN.BATCH_SIZE_PER_GPU == CROWDPOSE_BASELINE['BATCH'][width]
    assert cfg.DATASET.DATASET == 'crowdpose'
    assert (cfg.DATASET.TRAIN_SET, cfg.DATASET.TEST_SET) == ('train', 'val')
    assert cfg.TRAIN.END_EPOCH == 210 and list(cfg.TRAIN.LR_STEP) == [170, 200]
    assert cfg.TRAIN.INIT_CHECKPOINT == '' and cfg.TEST.BATCH_SIZE_PER_GPU == 256
    assert cfg.EPOCH_EVAL_FREQ == 1 and not cfg.TEST.CROWDPOSE_NMS
    std = _load(f'crowdpose/{kind}/{name}_adam_lr1e-3_trainval_test.yaml')
    assert (std.DATASET.TRAIN_SET, std.DATASET.TEST_SET) == ('trainval', 'test')
    assert std.MODEL == cfg.MODEL and std.TRAIN == cfg.TRAIN and std.LOSS == cfg.LOSS


def test_detection_boxes_are_one_override_away():
    cfg = load_config(str(REPO / 'experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml'),
                      ['TEST.USE_GT_BBOX', 'false'])
    assert not cfg.TEST.USE_GT_BBOX
    assert cfg.TEST.COCO_BBOX_FILE.endswith('COCO_val2017_detections_AP_H_56_person.json')
