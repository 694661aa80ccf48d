"""Settings of the MIPNet-vs-HRNet comparison on synthetic crowds
(benchmarks/compare_baseline.py): the two models, the presets, the reference schedule in
proportion, the synthetic data of both splits, and the ``KEY VALUE`` overrides both models
share."""
import os
import time
from typing import NamedTuple

from mipnet.data.synthetic import SyntheticConfig

# The comparison's configs live in the repository (the package is installed editable from
# it): lib/mipnet/analysis/ -> the repository root.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class ModelSpec(NamedTuple):
    """One model of the comparison: short name, model name (``MODEL.NAME``) and config
    file relative to the repository root."""
    name: str
    model: str
    cfg_file: str

    @property
    def label(self):
        """Name of the model in the tables: 'HRNet (pose_hrnet)'."""
        return f'{self.name} ({self.model})'

    @property
    def cfg_path(self):
        """Absolute path of the config file."""
        return os.path.join(ROOT, self.cfg_file)


# Baseline first: the report's tables and figures read the runs in this order.
MODELS = (ModelSpec('HRNet', 'pose_hrnet', 'experiments/synthetic/small_hrnet.yaml'),
          ModelSpec('MIPNet', 'pose_hrnet_se_lambda', 'experiments/synthetic/small_mipnet.yaml'))

class Variant(NamedTuple):
    """One run of the fine-tuning stage of ``--recipe finetune``: its key, its name in the
    tables, a model (``spec``), the config keys that make the variant (``opts``, KEY VALUE
    pairs on top of the shared overrides), a fine-tuning schedule ``epochs_factor`` times as
    long, and a sentence."""
    key: str
    name: str
    spec: ModelSpec
    opts: tuple = ()
    epochs_factor: int = 1
    description: str = ''

    @property
    def label(self):
        """Name of the run in the tables: 'MIPNet identity (pose_hrnet_se_lambda)'."""
        return f'{self.name} ({self.spec.model})'

    @property
    def model(self):
        return self.spec.model

    @property
    def cfg_file(self):
        return self.spec.cfg_file

    @property
    def cfg_path(self):
        return self.spec.cfg_path


_IDENTITY = ('MODEL.LAMBDA_IDENTITY_START', 'true')
# The fine-tuning variants ``--variants`` picks from, by key. 'hrnet' (the same HRNet
# continued with the same schedule) is every comparison's baseline; 'reference' is the
# reference recipe; the others are this port's first-instance protections (issue 26,
# docs/results.md), each one config key on top of the identity start.
FINETUNE_VARIANTS = {v.key: v for v in (
    Variant('hrnet', 'HRNet continued', MODELS[0],
            description='HRNet continued with the same schedule'),
    Variant('hrnet_long', 'HRNet continued 2x', MODELS[0], epochs_factor=2,
            description='HRNet continued, twice the fine-tuning epochs'),
    Variant('reference', 'MIPNet reference', MODELS[1],
            description='MIPNet, the reference form and start'),
    Variant('identity', 'MIPNet identity', MODELS[1], _IDENTITY,
            description='MIPNet, identity start (MODEL.LAMBDA_IDENTITY_START true)'),
    Variant('identity_iw', 'MIPNet identity+IW', MODELS[1],
            _IDENTITY + ('LOSS.INSTANCE_WEIGHTS', '[2.0,1.0]'),
            description='identity start, instance 0 weighted twice (LOSS.INSTANCE_WEIGHTS '
                        '[2, 1])'),
    Variant('identity_teacher', 'MIPNet identity+teacher', MODELS[1],
            _IDENTITY + ('LOSS.TEACHER_WEIGHT', '1.0'),
            description='identity start, instance 0 distilled from an HRNet trained '
                        'alongside (LOSS.TEACHER_WEIGHT 1)'),
    Variant('identity_long', 'MIPNet identity 2x', MODELS[1], _IDENTITY, epochs_factor=2,
            description='identity start, twice the fine-tuning epochs'),
)}
DEFAULT_VARIANTS = ('hrnet', 'reference')

PRESETS = {
    'full': dict(num_train=3000, num_val=400, epochs=14, eval_freq=2,
                 data='data/synthetic_compare', out='output/compare'),
    'quick': dict(num_train=600, num_val=100, epochs=3, eval_freq=1,
                  data='data/synthetic_compare_quick', out='output/compare_quick'),
    # One H100-class GPU, about 8 minutes (a budget, not yet measured on a GPU:
    # docs/results_archive.md, "Next measurements"): HRNet-W32 at 256x192 with mixed
    # precision, the reference schedule in proportion (HRNet 10 epochs, then MIPNet
    # fine-tuned and HRNet continued 5 epochs side by side on the GPU), the data generated
    # with every CPU core.
    'gpu': dict(num_train=5000, num_val=500, num_val_ochuman=500, epochs=10, eval_freq=5,
                data='data/synthetic_compare_gpu', out='output/compare_gpu', width=32,
                input_size=(192, 256), device='cuda', amp=True, recipe='finetune',
                lr=1e-3, batch_size=64, workers=6, threads=2,
                gen_workers=os.cpu_count() or 1),
}
OCHUMAN_SPLIT = 'val_ochuman'  # the OCHuman-like validation split (mipnet.data.synthetic)
# The reference schedules: HRNet 210 epochs with LR drops at 170 and 200; MIPNet fine-tuned
# from it for 110 epochs with drops at 70 and 100.
REFERENCE_HRNET_STEPS = (170 / 210, 200 / 210)
REFERENCE_FINETUNE_FRACTION = 110 / 210
REFERENCE_FINETUNE_STEPS = (70 / 110, 100 / 110)
IMAGE_SIZE = (256, 192)  # generated images (width, height)
# Schedule of both models. The small configs' LR 0.002 (and weight decay 1e-4) keep the
# short CPU runs in a noisy plateau and let Adam's L2 decay erase MIPNet's small lambda-path
# weights before they learn anything (docs/results_archive.md, "Analysis", section 1).
LR = 0.0005
WD = 0.0
INPUT_SIZE = (64, 96)  # network input (width, height); heatmaps are a quarter of it
# HRNet width of both models (branch channels W, 2W, 4W, 8W), as in the small configs. W32,
# the paper's smallest HRNet, costs about 1.3x the time per step at this input size, so
# 12 epochs of it took 48.8 min, over the 45-minute budget, and did not change the outcome
# (docs/results_archive.md, "Analysis"): ``--width 32 --epochs 12 --eval-freq 3``.
WIDTH = 16
# Defaults of the options a preset may set (the CPU comparison's).
DEFAULTS = dict(num_val_ochuman=400, width=WIDTH, input_size=INPUT_SIZE, device='cpu',
                amp=False, recipe='scratch', lr=LR, wd=WD, batch_size=0, workers=0, threads=1,
                gen_workers=2)
# Training data: the default generator. The held-out validation split is more crowded:
# fewer single-person images, more people placed onto others, closer behind them and allowed
# to be more hidden. (Training on the crowded settings too was measured to slow both models
# down, MIPNet more: docs/results_archive.md, "Analysis".)
TRAIN_SYNTHETIC = SyntheticConfig()
VAL_SYNTHETIC = SyntheticConfig(people_probs=(0.1, 0.3, 0.3, 0.3), overlap_prob=0.8,
                                overlap_shift=(0.0, 0.3), min_visible_fraction=0.2,
                                min_visible_joints=5)
FOUND_OKS = 0.5  # a person counts as found when some kept pose reaches this OKS


def log(msg):
    """Print a time-stamped progress line of the comparison."""
    print(f'[compare {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def scaled_steps(epochs, fractions):
    """LR-drop epochs at ``fractions`` of a schedule of ``epochs``: each >= 1, increasing,
    and before the last epoch where the schedule has room (a drop after the last epoch
    would never happen: 8 epochs give [6, 7] for the reference HRNet's two drops, not
    [6, 8])."""
    steps = []
    for fraction in fractions:
        step = max(1, int(round(fraction * epochs)))
        if steps and step <= steps[-1]:
            step = steps[-1] + 1
        steps.append(step)
    if epochs - 1 >= len(steps):
        # Pull late drops inside the schedule, last first, keeping them increasing.
        for i in reversed(range(len(steps))):
            steps[i] = min(steps[i], epochs - len(steps) + i)
    return steps


def overrides(args, data_dir, out_dir, epochs=None, lr_steps=None):
    """The KEY VALUE overrides shared by both models (``epochs``: ``args.epochs``;
    ``lr_steps``: one LR drop at 80 % of the epochs)."""
    w, h = args.input_size
    epochs = args.epochs if epochs is None else epochs
    if lr_steps is None:
        lr_steps = [max(1, int(round(0.8 * epochs)))]
    opts = ['DATASET.ROOT', data_dir, 'OUTPUT_DIR', out_dir,
            'LOG_DIR', os.path.join(out_dir, 'log'),
            'WORKERS', str(args.workers), 'SEED', str(args.seed),
            'EPOCH_EVAL_FREQ', str(args.eval_freq), 'PRINT_FREQ', '20',
            'MODEL.IMAGE_SIZE', f'[{w},{h}]', 'MODEL.HEATMAP_SIZE', f'[{w // 4},{h // 4}]',
            'TRAIN.END_EPOCH', str(epochs),
            'TRAIN.LR_STEP', '[' + ','.join(str(e) for e in lr_steps) + ']',
            'TRAIN.LR', str(args.lr), 'TRAIN.WD', str(args.wd),
            'TEST.BATCH_SIZE_PER_GPU', '64', 'DEVICE', args.device]
    if args.amp:
        opts += ['TRAIN.AMP', 'true']
    if args.batch_size:
        opts += ['TRAIN.BATCH_SIZE_PER_GPU', str(args.batch_size)]
    for stage in (2, 3, 4):  # branch widths W, 2W, 4W, 8W
        opts += [f'MODEL.EXTRA.STAGE{stage}.NUM_CHANNELS',
                 '[' + ','.join(str(args.width * 2 ** b) for b in range(stage)) + ']']
    return opts + list(args.opts)

