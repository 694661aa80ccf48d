"""Untrusted files and settings: a checkpoint that runs code when unpickled is refused on
every path that loads weights, no loader can unpickle arbitrary objects, and output paths
from the config cannot leave OUTPUT_DIR.

Library-level checks that exist already (not repeated here): tests/utils/test_checkpoint.py
``test_malicious_pickle_is_not_executed`` (load_file refuses the pickle),
tests/config/test_config.py ``test_yaml_is_loaded_safely`` (no python tags in YAML) and
``test_output_dir_cannot_escape`` (run_output_dir). These tests go through the command line.
"""
import ast
import os
from pathlib import Path

import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model

from ._helpers import (TINY, assert_one_error, coco_opts, run, run_dir,
                       run_in_process)
from tests.conftest import REPO

LIB = REPO / 'lib' / 'mipnet'


class _Payload:
    """Unpickling this calls ``os.system('touch <marker>')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture
def evil(tmp_path):
    """A checkpoint with valid tiny-model weights plus a code-executing object."""
    marker = tmp_path / 'PWNED'
    path = tmp_path / 'evil.pth'
    state = build_model(load_config(TINY)).state_dict()
    torch.save({'epoch': 1, 'state_dict': state, 'optimizer': {}, 'scheduler': {},
                'payload': _Payload(marker)}, path)
    return path, marker


REFUSED = 'refusing to unpickle it (weights_only=True)'


def test_evil_checkpoint_via_test_py_model_file(tmp_path, evil):
    path, marker = evil
    result = run(['tools/test.py', '--cfg', TINY, *coco_opts(tmp_path / 'out'),
                  'TEST.MODEL_FILE', path])
    assert_one_error(result, f'checkpoint {path}', REFUSED)
    assert not marker.exists()


@pytest.mark.parametrize('how', ['--check_point', '--pth_path', 'MODEL.PRETRAINED',
                                 'AUTO_RESUME'])
def test_evil_checkpoint_via_training(tmp_path, evil, how):
    path, marker = evil
    flags, opts = [], []
    if how.startswith('--'):
        flags = [how, path]
    elif how == 'MODEL.PRETRAINED':
        opts = ['MODEL.PRETRAINED', path]
    else:                   # a checkpoint.pth planted in the run folder
        folder = run_dir(tmp_path / 'out')
        folder.mkdir(parents=True)
        (folder / 'checkpoint.pth').write_bytes(path.read_bytes())
        path = folder / 'checkpoint.pth'
        opts = ['AUTO_RESUME', 'True']
    result = run_in_process('train', [*flags, '--cfg', TINY, *coco_opts(tmp_path / 'out'),
                                      'TRAIN.END_EPOCH', 1, *opts])
    assert_one_error(result, f'checkpoint {path}', REFUSED)
    assert not marker.exists()


def test_output_dir_escape_via_train_py(tmp_path):
    out = tmp_path / 'out'
    result = run(['tools/train.py', '--cfg', TINY, *coco_opts(out),
                  'DATASET.DATASET', '../../escaped'])
    assert_one_error(result, f'escapes OUTPUT_DIR {out}')
    assert not (tmp_path / 'escaped').exists() and not (tmp_path.parent / 'escaped').exists()


def test_output_dir_escape_via_model_name_and_test_py(tmp_path, evil):
    out = tmp_path / 'out'
    result = run_in_process('train', ['--cfg', TINY, *coco_opts(out),
                                      'MODEL.NAME', '../../../escaped'])
    assert_one_error(result, f'escapes OUTPUT_DIR {out}')
    result = run_in_process('test', ['--cfg', TINY, *coco_opts(out), 'TEST.MODEL_FILE',
                                     evil[0], 'DATASET.DATASET', '../..'])
    assert_one_error(result, f'escapes OUTPUT_DIR {out}')
    assert not list(tmp_path.parent.glob('escaped'))


# --------------------------------------------------------------- static checks of lib/
def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                yield node, f'{func.value.id}.{func.attr}'
            elif isinstance(func, ast.Name):
                yield node, func.id


def _keyword(node, name):
    for kw in node.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else '<expr>'
    return None


def unsafe_calls(root):
    """``file:line: call`` for every unsafe deserialisation or dynamic execution."""
    found = []
    for path in sorted(Path(root).rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        for node, name in _calls(tree):
            where = f'{path.relative_to(root)}:{node.lineno}: {name}'
            if name == 'torch.load' and _keyword(node, 'weights_only') is not True:
                found.append(where + ' without weights_only=True')
            elif name in ('eval', 'exec', 'compile', '__import__', 'pickle.load',
                          'pickle.loads', 'marshal.loads', 'yaml.unsafe_load',
                          'dill.load', 'joblib.load', 'os.system'):
                found.append(where)
            elif name == 'yaml.load' and 'Safe' not in ast.unparse(node):
                found.append(where + ' without SafeLoader')
            elif name in ('np.load', 'numpy.load') and _keyword(node, 'allow_pickle'):
                found.append(where + ' with allow_pickle')
    return found


def test_lib_has_no_unsafe_deserialisation_or_eval():
    assert unsafe_calls(LIB) == []
    uses = [p for p in LIB.rglob('*.py') if 'torch.load(' in p.read_text()]
    assert uses, 'expected at least one torch.load (in utils/checkpoint.py)'


def test_the_scan_finds_unsafe_calls(tmp_path):
    (tmp_path / 'bad.py').write_text(
        'import torch, pickle, yaml\n'
        'torch.load(p)\ntorch.load(p, weights_only=False)\ntorch.load(p, weights_only=True)\n'
        'pickle.loads(b)\neval("1")\nyaml.load(s)\nyaml.load(s, Loader=yaml.SafeLoader)\n'
        'model.eval()\n')
    assert [f.split(': ', 1)[1] for f in unsafe_calls(tmp_path)] == [
        'torch.load without weights_only=True', 'torch.load without weights_only=True',
        'pickle.loads', 'eval', 'yaml.load without SafeLoader']
