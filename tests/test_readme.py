"""README's command blocks run as written (at tiny sizes), so they cannot drift.

Every ```bash block of README.md is run, in README order, by bash (every ```python block by
this interpreter) in one temporary workspace that holds the repository's Makefile, configs,
tools, shipped checkpoint and test fixtures,
unless the line above it says ``<!-- readme-test: skip: <reason> -->`` (blocks that need
external data, the network or half an hour). What the test changes, and nothing else:

* ``.venv/bin/python`` is this interpreter (the suite's venv);
* sizes are tiny: ``--num-train``/``--num-val`` become 8/4, and ``make demo`` gets
  ``DEMO_TRAIN=8 DEMO_VAL=4 DEMO_IMAGES=2`` (plus the interpreter and an install stamp,
  so it does not reinstall the venv).

Afterwards every file the commands wrote must be under ``output/`` or ``data/``, which
.gitignore ignores: running the examples leaves ``git status`` clean.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

README = REPO / 'README.md'
FENCE = re.compile(r'^```(\S*)\n(.*?)^```\n', re.M | re.S)
SKIP = re.compile(r'<!-- readme-test: skip: (.+?) -->\n\Z')
# What the workspace holds of the repository (symlinks): what the commands may read.
LINKED = ('Makefile', 'pyproject.toml', 'experiments', 'tools', 'checkpoints', 'tests/fixtures')
RUN = {'bash': ['bash', '-euo', 'pipefail', '-c'], 'python': [sys.executable, '-c']}
ALLOWED_OUTPUT = {'output', 'data'}


def command_blocks(text, kinds=('bash',)):
    """[(line number, kind, body, skip reason or None)] of the ``kinds`` blocks of ``text``."""
    blocks = []
    for m in FENCE.finditer(text):
        if m.group(1) not in kinds:
            continue
        skip = SKIP.search(text[:m.start()])
        blocks.append((text.count('\n', 0, m.start()) + 1, m.group(1), m.group(2),
                       skip.group(1) if skip else None))
    return blocks


def tiny(body, stamp):
    """The block with this interpreter and tiny sizes (module docstring)."""
    body = body.replace('.venv/bin/python', sys.executable)
    body = re.sub(r'--num-train \d+', '--num-train 8', body)
    body = re.sub(r'--num-val \d+', '--num-val 4', body)
    return re.sub(r'^make demo\b', f'make demo PY={sys.executable} STAMP={stamp} DEMO_TRAIN=8 '
                  'DEMO_VAL=4 DEMO_IMAGES=2', body, flags=re.M)


def test_fences_are_bash_commands_or_plain_text():
    kinds = {m.group(1) for m in FENCE.finditer(README.read_text())}
    assert kinds <= {'bash', 'python', '', 'bibtex'}, kinds  # '': sample output, never run
    blocks = command_blocks(README.read_text(), tuple(RUN))
    assert len([b for b in blocks if b[3] is None]) >= 5
    assert any(kind == 'python' and skip is None for _, kind, _, skip in blocks)
    assert all(reason.strip() for *_, reason in blocks if reason is not None)


def test_bash_blocks_tiny_rewrite():
    body = 'make demo   # all\n.venv/bin/python tools/make_synthetic.py --num-train 600 --num-val 100\n'
    assert tiny(body, '/s') == (f'make demo PY={sys.executable} STAMP=/s DEMO_TRAIN=8 DEMO_VAL=4 '
                                f'DEMO_IMAGES=2   # all\n{sys.executable} tools/make_synthetic.py '
                                '--num-train 8 --num-val 4\n')


@pytest.mark.skipif(shutil.which('make') is None, reason='needs GNU make (make demo)')
def test_readme_commands_run_as_written(tmp_path):
    work = tmp_path / 'repo'
    work.mkdir()
    for name in LINKED:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).symlink_to(REPO / name)
    stamp = tmp_path / 'installed'  # newer than pyproject.toml: make does not reinstall
    stamp.touch()
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('MAKEFLAGS', None)
    for line, kind, body, skip in command_blocks(README.read_text(), tuple(RUN)):
        if skip is not None:
            continue
        proc = subprocess.run([*RUN[kind], tiny(body, stamp)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, (f'README.md:{line} block failed:\n{body}\n'
                                      f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    written = {p.name for p in work.iterdir()} - {name.split('/')[0] for name in LINKED}
    assert written <= ALLOWED_OUTPUT, written
    assert any((work / 'output').rglob('*.png')) and any((work / 'output').rglob('*.onnx'))
    if shutil.which('git') and (REPO / '.git').exists():
        ignored = subprocess.run(['git', '-C', str(REPO), 'check-ignore', 'output/x.onnx',
                                  'data/synthetic/x.jpg'], capture_output=True, text=True)
        assert ignored.stdout.split() == ['output/x.onnx', 'data/synthetic/x.jpg']


def test_config_table_names_the_config_make_demo_uses():
    demo_cfg = re.search(r'^DEMO_CFG \?= (\S+)', (REPO / 'Makefile').read_text(), re.M).group(1)
    rows = [line for line in README.read_text().splitlines()
            if line.startswith('| `experiments/synthetic/') and '`make demo`' in line]
    assert rows and all(f'`{demo_cfg}`' in row for row in rows), rows
