"""Writes fail early and clearly (issue 17, items 6 and 7): before any training work, an
unwritable or misplaced OUTPUT_DIR / LOG_DIR / run folder, too little disk space or a run
folder in use by another run is one ``error:`` line naming the path and the cause; a write
that fails later (a full disk mid-save) is one line too, naming ENOSPC."""
import json
import os
import shutil
import subprocess
import tempfile
from collections import namedtuple

import pytest
import torch

from mipnet.config import load_config
from mipnet.models import build_model

from ._helpers import (PYTHON, REPO, TINY, WRAPPER, assert_one_error, child_env, coco_opts,
                       kill, run_dir, run_in_process, start, wait_for)


def _args(out_dir, epochs=1, *extra):
    return ['--cfg', TINY, *coco_opts(out_dir), 'TRAIN.END_EPOCH', epochs,
            'EPOCH_EVAL_FREQ', 100, *extra]


def test_output_dir_that_is_a_file(tmp_path):
    out = tmp_path / 'out'
    out.write_text('not a folder')
    assert_one_error(run_in_process('train', _args(out)),
                     f'OUTPUT_DIR {out} is a file, not a folder')
    assert_one_error(run_in_process('test', ['--cfg', TINY, *coco_opts(out),
                                             'TEST.MODEL_FILE', tmp_path / 'x.pth']),
                     f'OUTPUT_DIR {out} is a file, not a folder')


def test_log_dir_that_is_a_file(tmp_path):
    log_dir = tmp_path / 'log'
    log_dir.write_text('')
    args = _args(tmp_path / 'out', 1, 'LOG_DIR', log_dir)
    assert_one_error(run_in_process('train', args), f'LOG_DIR folder {log_dir} is a file')
    assert not run_dir(tmp_path / 'out').joinpath('checkpoint.pth').exists()


def test_not_enough_disk_space_before_training(tmp_path, monkeypatch):
    import mipnet.engine.preflight as preflight
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(preflight.shutil, 'disk_usage', lambda p: usage(10, 10, 1 << 10))
    result = run_in_process('train', _args(tmp_path))
    assert_one_error(result, f'not enough disk space in {run_dir(tmp_path)}',
                     '0.0 MiB are free')
    assert 'Epoch: [0]' not in result.stdout


def test_full_disk_while_saving_is_one_error(tmp_path, monkeypatch):
    """The checkpoint's temporary file is /dev/full: torch's serializer fails with ENOSPC
    deep in its exception chain; the user sees one line naming the file and ENOSPC."""
    import mipnet.utils.checkpoint as checkpoint
    real = tempfile.mkstemp

    def mkstemp(**kwargs):
        if kwargs.get('prefix', '').startswith('.checkpoint.pth.'):
            return os.open('/dev/full', os.O_WRONLY), str(tmp_path / 'never-created.tmp')
        return real(**kwargs)
    monkeypatch.setattr(checkpoint.tempfile, 'mkstemp', mkstemp)
    ckpt = run_dir(tmp_path) / 'checkpoint.pth'
    assert_one_error(run_in_process('train', _args(tmp_path)),
                     f'cannot write checkpoint {ckpt}: No space left on device (ENOSPC)')


# Root's capabilities that bypass file permissions. Without them a root process is bound by
# the permission bits like anyone else, as the owner of root's files.
_OVERRIDES = ('dac_override', 'dac_read_search')


def _where_permissions_bind(tmp_path):
    """Command prefix under which a folder of mode 0555 refuses writes: nothing for an
    ordinary user; for root, ``setpriv`` dropping the capabilities that override permissions.

    The process keeps root's user id, so it reads the clone and the interpreter wherever
    they are (a clone in a ``mktemp -d`` folder of mode 0700 included; an unprivileged user
    could not even start an interpreter under /root), as the owner of those files. Skips,
    with the reason, only where that cannot be arranged.
    """
    if os.geteuid() != 0:
        return []
    if not shutil.which('setpriv'):
        pytest.skip('running as root without setpriv (util-linux): cannot drop '
                    'CAP_DAC_OVERRIDE, so no folder is unwritable')
    prefix = ['setpriv', '--bounding-set=' + ','.join('-' + c for c in _OVERRIDES)]
    probe_dir = tmp_path / 'probe'
    probe_dir.mkdir(mode=0o555)
    try:
        probe = subprocess.run(prefix + [PYTHON, '-c', (
            'import sys, mipnet\n'
            'try:\n'
            f'    open({str(probe_dir / "x")!r}, "w")\n'
            'except PermissionError:\n'
            '    sys.exit(0)\n'
            'sys.exit(3)\n')], cwd=REPO, env=child_env(), capture_output=True, text=True,
            timeout=120)
    finally:
        probe_dir.chmod(0o755)
    if probe.returncode == 3:
        pytest.skip('root without CAP_DAC_OVERRIDE can still write to a 0555 folder here '
                    '(a file system that ignores permissions?)')
    if probe.returncode != 0:
        pytest.skip('cannot drop CAP_DAC_OVERRIDE with setpriv here (no CAP_SETPCAP in this '
                    f'container?): {probe.stderr.strip()[-300:]}')
    return prefix


def test_read_only_run_folder_on_resume_fails_before_training(tmp_path):
    """The issue's case: a full epoch trained, then a PermissionError traceback. Works
    wherever the clone lives (issue 27, item 12)."""
    prefix = _where_permissions_bind(tmp_path)
    base = tmp_path / 'out'
    first = run_in_process('train', _args(base, 1))
    assert first.returncode == 0, first.stderr[-3000:]
    folder = run_dir(base)
    before = (folder / 'checkpoint.pth').read_bytes()
    try:
        os.chmod(folder, 0o555)
        proc = subprocess.run(prefix + [PYTHON, 'tools/train.py', *map(str, _args(
            base, 2, 'AUTO_RESUME', 'True'))], cwd=REPO, env=child_env(),
            capture_output=True, text=True, timeout=120)
        assert_one_error(proc, f'cannot write to run folder {folder}', 'Permission denied')
        assert 'Epoch: [1]' not in proc.stdout
        assert (folder / 'checkpoint.pth').read_bytes() == before
        # A writable folder holding a read-only checkpoint.pth: refused before training too
        # (its owner protected it; the rename of the next save would replace it anyway).
        os.chmod(folder, 0o755)
        os.chmod(folder / 'checkpoint.pth', 0o444)
        proc = subprocess.run(prefix + [PYTHON, 'tools/train.py', *map(str, _args(
            base, 2, 'AUTO_RESUME', 'True'))], cwd=REPO, env=child_env(),
            capture_output=True, text=True, timeout=120)
        assert_one_error(proc, f'{folder / "checkpoint.pth"} is read-only')
        assert 'Epoch: [1]' not in proc.stdout
        assert (folder / 'checkpoint.pth').read_bytes() == before
    finally:
        os.chmod(folder, 0o755)


def test_second_run_into_one_folder_is_refused_naming_the_holder(tmp_path):
    """A run paused after its first epoch holds the lock; a second run into the same
    OUTPUT_DIR stops with one line naming its PID and writes nothing; once the holder is
    killed (SIGKILL: no clean-up) the folder is free again."""
    marker, log = tmp_path / 'paused', tmp_path / 'holder.log'
    proc = start([WRAPPER, 'train', *_args(tmp_path, 2)],
                 child_env(MIPNET_FAULT_PAUSE_AFTER_EPOCH=0, MIPNET_FAULT_MARKER=marker), log)
    try:
        wait_for(marker, proc, log=log)
        folder = run_dir(tmp_path)
        logs = sorted(folder.glob('train_*.log'))
        ckpt = (folder / 'checkpoint.pth').read_bytes()
        result = run_in_process('train', _args(tmp_path, 2))
        assert_one_error(result, f'another run (PID {proc.pid}) is using {folder}')
        assert sorted(folder.glob('train_*.log')) == logs
        assert (folder / 'checkpoint.pth').read_bytes() == ckpt
    finally:
        kill(proc)
    result = run_in_process('train', _args(tmp_path, 2, 'AUTO_RESUME', 'True'))
    assert result.returncode == 0, result.stderr[-3000:]


def test_full_disk_while_writing_results_keeps_the_previous_results(tmp_path, monkeypatch):
    """tools/test.py on a full disk (issue 27, item 4): the results JSON of the last
    evaluation used to be truncated in place; now every file of the previous evaluation
    stays as it was, nothing partial is left, and the one error line names the file."""
    model_file = tmp_path / 'tiny.pth'
    torch.save(build_model(load_config(TINY)).state_dict(), model_file)
    args = ['--cfg', TINY, *coco_opts(tmp_path / 'out'), 'TEST.MODEL_FILE', model_file]
    first = run_in_process('test', args)
    assert first.returncode == 0, first.stderr[-3000:]
    results = run_dir(tmp_path / 'out') / 'results'
    names = sorted(p.name for p in results.iterdir())
    assert len(names) == 3 and any('merged' in n for n in names), names
    for name in names:      # the previous evaluation's files, recognisable
        (results / name).write_text(json.dumps([name]))
    real_dump = json.dump

    def full_disk_dump(obj, f, *a, **k):
        """Results records: half the text reaches the file, then the disk is full."""
        if isinstance(obj, list) and obj and isinstance(obj[0], dict) and 'keypoints' in obj[0]:
            text = json.dumps(obj)
            f.write(text[:len(text) // 2])
            f.flush()
            raise OSError(28, 'No space left on device')
        return real_dump(obj, f, *a, **k)
    monkeypatch.setattr(json, 'dump', full_disk_dump)
    merged = results / next(n for n in names if 'merged' in n)
    assert_one_error(run_in_process('test', args),
                     f'cannot write {merged}: No space left on device (ENOSPC)')
    assert sorted(p.name for p in results.iterdir()) == names       # no partial file
    for name in names:
        assert json.loads((results / name).read_text()) == [name]
