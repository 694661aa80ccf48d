import glob
import logging

import pytest

from mipnet.config import ConfigError, get_cfg, load_config, run_output_dir
from mipnet.config.defaults import DEPRECATED_KEYS
from tests.conftest import REPO


def test_get_cfg_is_mutable_clone():
    cfg = get_cfg()
    cfg.TRAIN.LR = 123.0
    assert get_cfg().TRAIN.LR == 0.001


@pytest.mark.parametrize('path', sorted(glob.glob(str(REPO / 'experiments' / '**' / '*.yaml'),
                                                  recursive=True)))
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.is_frozen()
    assert len(cfg.MODEL.SE_MODULES) == 4


def test_reference_style_file_with_three_se_flags(tmp_path):
    # Reference files use GPUS (ignored: devices come from torchrun) and three SE flags.
    f = tmp_path / 'ref.yaml'
    f.write_text("GPUS: (0,1,2,3)\nMODEL:\n  NAME: pose_hrnet_se_lambda\n  SE_MODULES: [false, true, true]\n"
                 "  EXTRA:\n    FINAL_CONV_KERNEL: 1\nTEST:\n  DECAY_THRE: 0.3\n")
    cfg = load_config(str(f))
    assert 'GPUS' not in cfg
    assert cfg.MODEL.SE_MODULES == [False, True, True, False]
    assert cfg.TEST.DECAY_THRE == 0.3
    assert get_cfg().TEST.DECAY_THRE == 0.5


def test_overrides_and_errors(tiny_cfg_file, tmp_path):
    cfg = load_config(tiny_cfg_file, ['TRAIN.LR', '0.5', 'MODEL.NUM_INSTANCES', '3',
                                      'TRAIN.AMP', 'true', 'TEST.FLIP_TEST', 'false'])
    assert cfg.TRAIN.LR == 0.5 and cfg.MODEL.NUM_INSTANCES == 3
    assert cfg.TRAIN.AMP is True and cfg.TEST.FLIP_TEST is False
    # YAML spellings inside lists too; paths and names stay strings.
    cfg = load_config(tiny_cfg_file, ['MODEL.SE_MODULES', '[false, true, true, true]',
                                      'LOSS.INSTANCE_WEIGHTS', '[1.0, 0.5]',
                                      'DATASET.ROOT', 'data/true'])
    assert cfg.MODEL.SE_MODULES == [False, True, True, True]
    assert cfg.LOSS.INSTANCE_WEIGHTS == [1.0, 0.5] and cfg.DATASET.ROOT == 'data/true'
    for bad in ('[1.0]', '[1.0, -1.0]', '[0, 0]'):
        with pytest.raises(ConfigError, match='LOSS.INSTANCE_WEIGHTS'):
            load_config(tiny_cfg_file, ['MODEL.NUM_INSTANCES', '2', 'LOSS.INSTANCE_WEIGHTS', bad])
    with pytest.raises(ConfigError, match='TRAIN.FOO'):
        load_config(tiny_cfg_file, ['TRAIN.FOO', '1'])
    with pytest.raises(ConfigError, match='TRAIN.LR'):
        load_config(tiny_cfg_file, ['TRAIN.LR', 'fast'])
    with pytest.raises(ConfigError, match='DEVICE'):
        load_config(tiny_cfg_file, ['DEVICE', 'tpu'])
    with pytest.raises(ConfigError, match='not found: .*nope.yaml'):
        load_config(str(tmp_path / 'nope.yaml'))
    bad = tmp_path / 'bad.yaml'
    bad.write_text('MODEL:\n  NAME: [unclosed\n')
    with pytest.raises(ConfigError, match='not valid YAML'):
        load_config(str(bad))
    unknown = tmp_path / 'unknown.yaml'
    unknown.write_text('MODEL:\n  NUM_JOINT: 17\n')
    with pytest.raises(ConfigError, match='MODEL.NUM_JOINT'):
        load_config(str(unknown))
    with pytest.raises(ConfigError, match='KEY VALUE'):
        load_config(tiny_cfg_file, ['TRAIN.LR'])


def test_yaml_is_loaded_safely(tmp_path):
    f = tmp_path / 'evil.yaml'
    f.write_text("OUTPUT_DIR: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match='not valid YAML'):
        load_config(str(f))


def test_output_dir_cannot_escape(tiny_cfg_file, tmp_path):
    cfg = load_config(tiny_cfg_file, ['OUTPUT_DIR', str(tmp_path)])
    assert run_output_dir(cfg, tiny_cfg_file) == str(tmp_path / 'synthetic' / 'pose_hrnet_se_lambda' / 'tiny_mipnet')
    evil = load_config(tiny_cfg_file, ['OUTPUT_DIR', str(tmp_path), 'DATASET.DATASET', '../../etc'])
    with pytest.raises(ConfigError, match='escapes OUTPUT_DIR'):
        run_output_dir(evil, tiny_cfg_file)


def test_run_differences_names_run_keys_only(tiny_cfg_file):
    import yaml
    from mipnet.config import run_differences
    stored = load_config(tiny_cfg_file).dump()
    same = load_config(tiny_cfg_file, ['WORKERS', '0', 'PRINT_FREQ', '7', 'DATASET.ROOT', '/x',
                                       'TEST.FLIP_TEST', 'false', 'TRAIN.MAX_STEPS', '3'])
    assert run_differences(stored, same) == []
    other = load_config(tiny_cfg_file, ['TRAIN.LR_STEP', '[1]', 'DATASET.ROT_FACTOR', '10',
                                        'SEED', '5'])
    assert [k for k, _, _ in run_differences(stored, other)] == \
        ['DATASET.ROT_FACTOR', 'SEED', 'TRAIN.LR_STEP']
    # A key added to the defaults later (absent from an old checkpoint) counts as its default.
    old = yaml.safe_load(stored)
    del old['TRAIN']['ADAM_WD']
    assert run_differences(yaml.safe_dump(old), load_config(tiny_cfg_file)) == []
    assert run_differences(yaml.safe_dump(old), load_config(
        tiny_cfg_file, ['TRAIN.ADAM_WD', 'true'])) == [('TRAIN.ADAM_WD', False, True)]
    with pytest.raises(ConfigError, match='not a mapping'):
        run_differences('- a\n- b\n', same)


def test_reference_keys_read_nowhere_are_ignored_with_a_warning(tmp_path, caplog):
    f = tmp_path / 'ref.yaml'
    f.write_text('GPUS: (0,1)\nRANK: 3\nMODEL:\n  TAG_PER_JOINT: false\nDATASET:\n'
                 '  TRAIN_DATASET_TYPE: coco_lambda\n  SYNTHETIC_ROOT: /x\n'
                 'TRAIN:\n  GAMMA1: 0.5\nTEST:\n  NMS_THRE: 1.0\n  BBOX_THRE: 1.0\n'
                 '  SCALE_THRE: 2.0\n  BBOX_FRACTION: 0.5\n  DECAY_THRE: 0.3\n')
    with caplog.at_level(logging.INFO, logger='mipnet.config'):
        cfg = load_config(str(f), ['TEST.NMS_THRE', '0.2', 'TRAIN.LR', '0.25',
                                   'TRAIN.GAMMA2', 'oops'])
    assert cfg.TEST.DECAY_THRE == 0.3  # a factor despite its name; read, not deprecated
    assert cfg.TEST.SCALE_THRE == 2.0  # the box enlargement, read as the reference does
    assert cfg.TRAIN.LR == 0.25  # the other overrides still apply
    for key in ('GPUS', 'RANK', 'MODEL.TAG_PER_JOINT', 'DATASET.TRAIN_DATASET_TYPE',
                'DATASET.SYNTHETIC_ROOT', 'TRAIN.GAMMA1', 'TRAIN.GAMMA2', 'TEST.NMS_THRE',
                'TEST.BBOX_THRE', 'TEST.BBOX_FRACTION'):
        assert key in DEPRECATED_KEYS
        section, _, name = key.rpartition('.')
        assert name not in (cfg[section] if section else cfg), key
    # One line for the file (INFO: the shipped reference files set such keys), one warning
    # for the overrides, none from yacs.
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert records == [
        ('INFO', f'config file {f}: ignoring GPUS, RANK, MODEL.TAG_PER_JOINT, '
                 'DATASET.TRAIN_DATASET_TYPE, DATASET.SYNTHETIC_ROOT, TRAIN.GAMMA1, '
                 'TEST.NMS_THRE, TEST.BBOX_THRE, TEST.BBOX_FRACTION '
                 '(reference keys nothing here reads; see DEPRECATED_KEYS in '
                 'lib/mipnet/config/defaults.py)'),
        ('WARNING', 'ignoring the override(s) of TEST.NMS_THRE, TRAIN.GAMMA2 (reference keys '
                    'nothing here reads; see DEPRECATED_KEYS in lib/mipnet/config/defaults.py)')]
    # yacs's own merge ignores them too (registered deprecated keys).
    raw = get_cfg()
    raw.merge_from_list(['TEST.BBOX_THRE', '0.1', 'TEST.OKS_THRE', '0.7'])
    raw.merge_from_file(str(f))
    assert raw.TEST.OKS_THRE == 0.7 and 'BBOX_THRE' not in raw.TEST
    # Every deprecated key is absent from the defaults, so nothing can read it.
    flat = _flat_keys(get_cfg())
    assert not set(DEPRECATED_KEYS) & flat


def _flat_keys(node, prefix=''):
    out = set()
    for key, value in node.items():
        if isinstance(value, dict):
            out |= _flat_keys(value, f'{prefix}{key}.')
        else:
            out.add(f'{prefix}{key}')
    return out


def test_run_differences_ignores_deprecated_keys_of_old_checkpoints(tiny_cfg_file):
    import yaml
    from mipnet.config import run_differences
    cfg = load_config(tiny_cfg_file)
    # A checkpoint written while these keys were still declared stores them.
    old = yaml.safe_load(cfg.dump())
    old['MODEL']['TAG_PER_JOINT'] = True
    old['TRAIN'].update(GAMMA1=0.99, GAMMA2=0.0)
    old['DATASET'].update(TRAIN_DATASET_TYPE='coco', HYBRID_JOINTS_TYPE='',
                          SYNTHETIC_TRAIN_SET='x')
    old['GPUS'] = [0, 1]
    assert run_differences(yaml.safe_dump(old), cfg) == []
    old['TRAIN']['LR'] = 0.5
    assert [k for k, _, _ in run_differences(yaml.safe_dump(old), cfg)] == ['TRAIN.LR']


def test_data_dir_prefixes_the_relative_data_paths(tiny_cfg_file):
    cfg = load_config(tiny_cfg_file, [
        'DATA_DIR', '/data', 'DATASET.ROOT', 'coco', 'DATASET.IMAGE_CACHE', 'coco_cache',
        'MODEL.PRETRAINED', 'w.pth', 'TEST.MODEL_FILE', '/abs/m.pth',
        'TRAIN.INIT_CHECKPOINT', 'init.pth'])
    assert (cfg.DATASET.ROOT, cfg.DATASET.IMAGE_CACHE, cfg.MODEL.PRETRAINED,
            cfg.TEST.MODEL_FILE, cfg.TRAIN.INIT_CHECKPOINT) == (
        '/data/coco', '/data/coco_cache', '/data/w.pth', '/abs/m.pth', '/data/init.pth')
    assert load_config(tiny_cfg_file, ['DATASET.IMAGE_CACHE', 'c']).DATASET.IMAGE_CACHE == 'c'


def _float_keys():
    """Dotted names of every float key of the defaults (MODEL.EXTRA is free-form)."""
    keys = []

    def walk(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f'{prefix}{key}.')
            elif isinstance(value, float):
                keys.append(f'{prefix}{key}')
    walk(get_cfg(), '')
    return keys


def _yaml_with(tmp_path, key, value):
    """A config file setting ``key`` (dotted) to the YAML text ``value``."""
    section, _, name = key.rpartition('.')
    path = tmp_path / 'bad.yaml'
    path.write_text(f'{section}:\n  {name}: {value}\n' if section else f'{name}: {value}\n')
    return str(path)


@pytest.mark.parametrize('key', _float_keys())
def test_every_float_key_refuses_nan_and_infinity(tmp_path, key):
    """A NaN threshold compares False with everything: TEST.OKS_THRE .nan gave AP 0.316
    instead of 0.446 with exit status 0 (issue 27, item 2)."""
    assert len(_float_keys()) >= 10
    for value in ('.nan', '.inf', '-.inf'):
        with pytest.raises(ConfigError, match=rf'^{key} = -?(nan|inf) must be a finite number'):
            load_config(_yaml_with(tmp_path, key, value))


@pytest.mark.parametrize('key, value, allowed', [
    ('TEST.OKS_THRE', '1.5', 'in [0, 1]'),
    ('TEST.IN_VIS_THRE', '-0.1', 'in [0, 1]'),
    ('TEST.IMAGE_THRE', '2.0', 'in [0, 1]'),
    ('TEST.DECAY_THRE', '-1.0', 'in [0, 1]'),
    ('DATASET.PROB_HALF_BODY', '1.5', 'in [0, 1]'),
    ('DATASET.SCALE_FACTOR', '1.0', 'in [0, 1)'),
    ('DATASET.SCALE_FACTOR', '-0.25', 'in [0, 1)'),
    ('DATASET.ROT_FACTOR', '-30', 'in [0, 180]'),
    ('TRAIN.LR_FACTOR', '0.0', '> 0'),
    ('TRAIN.LR', '0.0', '> 0'),
    ('TRAIN.WD', '-0.0001', '>= 0'),
    ('TRAIN.MOMENTUM', '1.5', 'in [0, 1]'),
    ('TRAIN.CLIP_GRAD_NORM', '-1.0', '>= 0'),
    ('MODEL.SIGMA', '0', '> 0'),
    ('PRINT_FREQ', '0', '>= 1'),
])
def test_numbers_out_of_their_range_name_key_and_range(tmp_path, key, value, allowed):
    with pytest.raises(ConfigError) as info:
        load_config(_yaml_with(tmp_path, key, value))
    assert str(info.value) == f'{key} = {value.lstrip("+")} must be a finite number {allowed}'
    with pytest.raises(ConfigError, match=rf'^{key} = .* must be a finite number'):
        load_config(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml', [key, value])


def test_range_bounds_and_list_entries(tiny_cfg_file, tmp_path):
    cfg = load_config(tiny_cfg_file, ['TEST.OKS_THRE', '1.0', 'TEST.IN_VIS_THRE', '0.0',
                                      'DATASET.SCALE_FACTOR', '0.0', 'TRAIN.WD', '0.0'])
    assert cfg.TEST.OKS_THRE == 1.0 and cfg.DATASET.SCALE_FACTOR == 0.0
    path = _yaml_with(tmp_path, 'LOSS.INSTANCE_WEIGHTS', '[1.0, .nan]')
    with pytest.raises(ConfigError, match=r'^LOSS.INSTANCE_WEIGHTS = \[1.0, nan\] must be a '
                                          r'list of finite numbers >= 0$'):
        load_config(path)
