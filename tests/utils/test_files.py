"""Atomic file writes (mipnet.utils.files): a full disk or a failing writer never leaves a
truncated file, the old file stays, the error names the file and the cause."""
import json
import os
import stat
import tempfile

import pytest

from mipnet.utils import files
from mipnet.utils.files import AtomicFiles, FileWriteError, write_atomic, write_json_atomic


def _full_disk_for(monkeypatch, tmp_path, name):
    """The temporary file of ``name`` is /dev/full: every write to it fails with ENOSPC."""
    real = tempfile.mkstemp

    def mkstemp(**kwargs):
        if kwargs.get('prefix', '').startswith(f'.{name}.'):
            return os.open('/dev/full', os.O_WRONLY), str(tmp_path / 'never-created.tmp')
        return real(**kwargs)
    monkeypatch.setattr(files.tempfile, 'mkstemp', mkstemp)


def test_write_json_atomic_replaces_the_file_with_a_plain_mode(tmp_path):
    path = tmp_path / 'sub' / 'a.json'
    write_json_atomic(str(path), {'x': 1}, indent=2)
    assert json.loads(path.read_text()) == {'x': 1}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask     # not mkstemp's 0600
    os.chmod(path, 0o640)
    write_json_atomic(str(path), [1, 2])
    assert json.loads(path.read_text()) == [1, 2]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640              # the replaced file's
    assert sorted(p.name for p in path.parent.iterdir()) == ['a.json']


def test_full_disk_keeps_the_old_file_and_names_it(tmp_path, monkeypatch):
    path = tmp_path / 'results.json'
    path.write_text('["old"]')
    _full_disk_for(monkeypatch, tmp_path, 'results.json')
    with pytest.raises(FileWriteError) as info:
        write_json_atomic(str(path), list(range(10000)))
    assert str(info.value) == f'cannot write {path}: No space left on device (ENOSPC)'
    assert isinstance(info.value, OSError) and info.value.filename == str(path)
    assert path.read_text() == '["old"]'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['results.json']


def test_a_group_is_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    names = ['merged.json', 'instance0.json', 'instance1.json']
    for name in names:
        (tmp_path / name).write_text('"old"')
    _full_disk_for(monkeypatch, tmp_path, 'instance1.json')
    with pytest.raises(FileWriteError, match='instance1.json: No space left on device'):
        with AtomicFiles() as group:
            for name in names:
                group.write(str(tmp_path / name), lambda f: f.write('"new"'))
    assert [(tmp_path / n).read_text() for n in names] == ['"old"'] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    # An exception in the block (e.g. the metric failing) replaces nothing either.
    monkeypatch.undo()
    with pytest.raises(ValueError):
        with AtomicFiles() as group:
            group.write(str(tmp_path / names[0]), lambda f: f.write('"new"'))
            raise ValueError('metric failed')
    assert (tmp_path / names[0]).read_text() == '"old"'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    with AtomicFiles() as group:
        for name in names:
            group.write(str(tmp_path / name), lambda f: f.write('"new"'))
    assert [(tmp_path / n).read_text() for n in names] == ['"new"'] * 3


def test_a_failing_writer_leaves_no_partial_file(tmp_path):
    path = tmp_path / 'x.bin'
    path.write_bytes(b'old')

    def write(f):
        f.write(b'half')
        raise OSError(28, 'No space left on device')
    with pytest.raises(FileWriteError, match=f'cannot write {path}: No space left'):
        write_atomic(str(path), write, binary=True)
    assert path.read_bytes() == b'old' and os.listdir(tmp_path) == ['x.bin']

