"""The tools' argument parsers: shared pieces defined once, each tool's flags parsed."""
import argparse
import re

import pytest

from mipnet.cli.parsers import (ACCEPTED_ONLY, PARSERS, demo_parser, eval_parser,
                                export_parser, flag, summary_parser, train_parser)


@pytest.mark.parametrize('name', sorted(set(PARSERS) - {'pick_images', 'make_synthetic', 'zoo'}))
def test_config_tools_share_cfg_and_overrides(name, capsys):
    parser = PARSERS[name]()
    cfg = next(a for a in parser._actions if a.dest == 'cfg')
    opts = next(a for a in parser._actions if a.dest == 'opts')
    assert cfg.required and cfg.help == 'experiment YAML file'
    assert opts.nargs in (argparse.REMAINDER, '*')
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([])
    assert exit_info.value.code == 2
    assert '--cfg' in capsys.readouterr().err


def test_device_option_is_one_definition():
    helps = {next(a.help for a in p()._actions if a.dest == 'device')
             for p in (train_parser, eval_parser, demo_parser)}
    assert helps == {'auto, npu, cuda or cpu (sets DEVICE)'}


def test_train_flags():
    args = train_parser().parse_args(['--cfg', 'x.yaml', '--amp', '--perf', '0', '--lr',
                                      '0.5', '--world_size', '8', 'TRAIN.END_EPOCH', '3'])
    assert args.amp is True and args.perf is False and args.lr == 0.5
    assert args.world_size == '8' and args.opts == ['TRAIN.END_EPOCH', '3']
    assert train_parser().parse_args(['--cfg', 'x', '--amp', 'off']).amp is False
    assert len(ACCEPTED_ONLY) == len(set(ACCEPTED_ONLY))


def test_eval_model_file_alias():
    assert eval_parser().parse_args(['--cfg', 'x', '--pth_path', 'm.pth']).model_file == 'm.pth'


def test_intermixed_overrides_of_demo_and_export():
    args = demo_parser().parse_intermixed_args(
        ['--cfg', 'x', 'TEST.MODEL_FILE', 'm.pth', '--image', 'a.jpg', '--out', 'o',
         '--boxes', '1,2,3,4', '--boxes', '5,6,7,8'])
    assert args.opts == ['TEST.MODEL_FILE', 'm.pth'] and args.boxes == ['1,2,3,4', '5,6,7,8']
    args = export_parser().parse_intermixed_args(['--cfg', 'x', 'A', 'B', '--out', 'm.onnx'])
    assert args.opts == ['A', 'B'] and args.opset == 18 and args.verify_batch_sizes == '1,3'
    assert summary_parser().parse_args(['--cfg', 'x', 'MODEL.NAME', 'pose_hrnet']).opts == \
        ['MODEL.NAME', 'pose_hrnet']


@pytest.mark.parametrize('text, value', [('1', True), ('True', True), ('on', True),
                                         ('0', False), ('no', False)])
def test_flag(text, value):
    assert flag(text) is value


def test_flag_rejects_other_values():
    with pytest.raises(argparse.ArgumentTypeError, match='expected 0 or 1'):
        flag('2')


@pytest.mark.parametrize('option, value, why', [
    ('--score-thre', 'nan', 'must be a finite number, got nan'),   # accepted, filtered nothing
    ('--score-thre', '1.5', r'must be a number in \[0, 1\], got 1.5'),
    ('--kpt-thre', 'inf', 'must be a finite number, got inf'),
    ('--det-nms-thre', '-0.1', r'must be a number in \[0, 1\], got -0.1'),
    ('--det-score-thre', 'nan', 'must be a finite number, got nan'),
    ('--det-input-size', '0', 'must be >= 1, got 0'),
])
def test_demo_refuses_non_finite_and_out_of_range_numbers(option, value, why, capsys):
    """Issue 27, item 2: the demo's ``--score-thre nan`` was accepted and filtered nothing."""
    argv = ['--cfg', 'x', '--image', 'a.jpg', '--out', 'o', option, value]
    if option == '--det-input-size':
        argv.append('64')
    with pytest.raises(SystemExit) as exit_info:
        demo_parser().parse_intermixed_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if 'error:' in line]) == 1
    assert re.search(f'error: argument {option}: {why}$', err.strip()), err
    good = ['64', '64'] if option == '--det-input-size' else ['0.5']
    args = demo_parser().parse_intermixed_args(argv[:6] + [option, *good])
    assert getattr(args, option[2:].replace('-', '_')) in (0.5, [64, 64])
