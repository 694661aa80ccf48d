"""LOSS.TEACHER_WEIGHT: instance 0 distilled towards an HRNet trained alongside (issue 26's
first-instance protection). Its extra loss is zero at step 0 with the identity start, the
teacher trains and is checkpointed, and evaluation never builds it."""
import pytest
import torch

from mipnet.config import ConfigError, load_config
from mipnet.cli.train_test import eval_main, train_main
from mipnet.evaluation.inference import instance_heatmaps
from mipnet.engine.teacher import AlongsideTeacher
from mipnet.models import build_model, init_from_checkpoint, model_meta
from mipnet.utils.checkpoint import load_file, load_state_dict_file, with_meta
from tests.engine.conftest import TINY, tiny_opts

RUN_DIR = ('synthetic', 'pose_hrnet_se_lambda', 'tiny_mipnet')


@pytest.fixture(scope='module')
def hrnet_file(tmp_path_factory):
    """A tiny HRNet checkpoint far from any initialisation (random weights and statistics)."""
    torch.manual_seed(1)
    cfg = load_config(TINY, ['MODEL.NAME', 'pose_hrnet'])
    state = {k: (torch.rand_like(v) + 0.5 if k.endswith('running_var') else
                 v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v)
             for k, v in build_model(cfg).state_dict().items()}
    path = tmp_path_factory.mktemp('hrnet') / 'hrnet.pth'
    torch.save(with_meta(state, model_meta(cfg)), path)
    return str(path)


@pytest.mark.parametrize('identity,zero', [('true', True), ('false', False)])
def test_distillation_loss_is_zero_at_step_0_only_with_the_identity_start(hrnet_file,
                                                                          identity, zero):
    cfg = load_config(TINY, ['MODEL.LAMBDA_IDENTITY_START', identity, 'LOSS.TEACHER_WEIGHT',
                             '1.0', 'TRAIN.INIT_CHECKPOINT', hrnet_file])
    torch.manual_seed(0)
    student = build_model(cfg, is_train=True)
    init_from_checkpoint(student, hrnet_file, cfg)
    teacher = AlongsideTeacher(cfg, torch.device('cpu'))
    student.train()
    teacher.model.train()
    images = torch.randn(4, 3, 64, 64)
    target = torch.rand(4, 2, 17, 16, 16)
    weight = torch.ones(4, 2, 17, 1)
    output = instance_heatmaps(student, images, range(2))
    own, distill = teacher.losses(images, target, weight, output[:, 0])
    assert own > 0
    if zero:
        assert distill <= 1e-10
    else:  # the reference start scales stage 4's input by about 0.25: far from the teacher
        assert distill > 1e-4
    # The distillation's gradient reaches the student only.
    distill.backward()
    assert all(p.grad is None for p in teacher.model.parameters())


def test_training_with_a_teacher_checkpoints_it_and_evaluation_ignores_it(
        hrnet_file, synthetic_root, tmp_path):
    opts = ['LOSS.TEACHER_WEIGHT', '1.0', 'MODEL.LAMBDA_IDENTITY_START', 'true',
            'TRAIN.END_EPOCH', '1', 'TRAIN.LR_STEP', '[5]']
    summary = train_main(['--cfg', TINY, '--init_checkpoint', hrnet_file,
                          *tiny_opts(synthetic_root, tmp_path, *opts)])
    run = tmp_path.joinpath('output', *RUN_DIR)
    state = load_file(str(run / 'checkpoint.pth'))
    teacher = state['teacher']
    assert set(teacher) == {'state_dict', 'optimizer', 'scheduler'}
    initial = load_state_dict_file(hrnet_file)
    # The teacher trained (its weights moved from the checkpoint they started from).
    assert any(not torch.equal(teacher['state_dict'][k], v) for k, v in initial.items()
               if v.is_floating_point())
    # The weights files hold the student only, loadable into a MIPNet.
    final = load_state_dict_file(str(run / 'final_state.pth'))
    assert set(final) == set(build_model(load_config(TINY)).state_dict())
    # Evaluation with the same config builds no teacher (no init checkpoint needed).
    metrics = eval_main(['--cfg', TINY, *tiny_opts(synthetic_root, tmp_path / 'eval', *opts,
                                                   'TEST.MODEL_FILE', str(run / 'final_state.pth'))])
    assert metrics['merged'] == pytest.approx(summary['metrics']['merged'], abs=1e-9)


def test_teacher_settings_are_checked(hrnet_file, synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match='LOSS.TEACHER_WEIGHT'):
        load_config(TINY, ['LOSS.TEACHER_WEIGHT', '1.0', 'MODEL.NAME', 'pose_hrnet'])
    with pytest.raises(ConfigError, match='LOSS.TEACHER_WEIGHT'):
        load_config(TINY, ['LOSS.TEACHER_WEIGHT', 'nan'])
    with pytest.raises(ConfigError, match='TRAIN.INIT_CHECKPOINT'):
        AlongsideTeacher(load_config(TINY, ['LOSS.TEACHER_WEIGHT', '1.0']), torch.device('cpu'))
