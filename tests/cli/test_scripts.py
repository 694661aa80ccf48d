"""The installed commands of pyproject.toml ([project.scripts]): each names a function that
takes argv, answers --help, and returns an exit status (console-script wrappers pass the
return value to sys.exit)."""
import importlib
import re

import pytest

from tests.conftest import REPO

# A plain reading of the section (tomllib is Python >= 3.11; the package supports 3.9).
_SECTION = re.search(r'^\[project\.scripts\]\n(.*?)(?:^\[|\Z)',
                     (REPO / 'pyproject.toml').read_text(), re.M | re.S).group(1)
SCRIPTS = dict(re.findall(r'^([\w-]+) = "([\w.:]+)"$', _SECTION, re.M))


def test_the_five_commands_are_declared():
    assert sorted(SCRIPTS) == ['mipnet-demo', 'mipnet-export', 'mipnet-test', 'mipnet-train',
                               'mipnet-zoo']


@pytest.mark.parametrize('name', sorted(SCRIPTS))
def test_command_answers_help(name, capsys, monkeypatch):
    module, function = SCRIPTS[name].split(':')
    main = getattr(importlib.import_module(module), function)
    monkeypatch.setattr('sys.argv', [name, '--help'])
    with pytest.raises(SystemExit) as info:
        main(['--help'])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f'usage: {name} ')


def test_train_and_test_commands_return_a_status(capsys):
    from mipnet.cli.train_test import eval_command
    with pytest.raises(SystemExit) as info:
        eval_command(['--cfg', str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml'),
                      '--device', 'cpu'])
    assert info.value.code == 1
    assert capsys.readouterr().err.startswith('error: TEST.MODEL_FILE is empty')
