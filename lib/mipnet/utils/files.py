"""Atomic file writes: results, metrics and every other JSON file a run writes.

A file is written to a temporary file in its own folder, flushed and fsynced, then renamed
over its final name, so a crash or a full disk at any moment leaves either the old file or
the new one, never a truncated one. :class:`AtomicFiles` does that for a set of files that
belong together (the per-instance results of one evaluation): either all of them are
replaced or none is.
"""
import errno
import json
import os
import tempfile

__all__ = ['AtomicFiles', 'FileWriteError', 'json_writer', 'write_atomic', 'write_files_atomic',
           'write_json_atomic']


class FileWriteError(OSError):
    """A file could not be written; the message names the file and the cause. The old file
    at that path, if any, is left as it was."""

    def __init__(self, path, cause):
        super().__init__(cause.errno if isinstance(cause, OSError) else None,
                         _describe(cause), path)
        self.path = path

    def __str__(self):
        return f'cannot write {self.path}: {self.strerror}'


def _describe(exc):
    """'No space left on device (ENOSPC)' for an OSError, else its first line."""
    if isinstance(exc, OSError) and exc.errno:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return f'{exc.strerror or os.strerror(exc.errno)} ({name})'
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _umask():
    """The process umask, read without changing it (Linux), else by setting it back."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder):
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path, write, binary):
    """Write ``path``'s content into a new temporary file beside it; returns its path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=folder)
    try:
        with os.fdopen(fd, 'wb' if binary else 'w', **({} if binary else
                                                        {'encoding': 'utf-8'})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes 0600; the file gets the mode a plain open() would give it (or the
        # mode of the file it replaces).
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


class AtomicFiles:
    """Files that are replaced together: either all of them or none.

    ``with AtomicFiles() as files:`` then ``files.write(path, write)`` for each file, where
    ``write(f)`` writes the content to the open file object ``f`` (text, UTF-8, or bytes
    with ``binary=True``). Each content goes to a temporary file in its target's folder and
    is fsynced at once (so the caller can drop it); the renames over the final names happen
    when the block ends without an exception. A failure (full disk, permissions) or an
    exception in the block removes the temporary files and leaves every old file untouched.

    Raises:
        FileWriteError: naming the file that could not be written and the cause (e.g.
            'No space left on device (ENOSPC)').
    """

    def __init__(self):
        self._staged = []     # (temporary path, final path)

    def __enter__(self):
        return self

    def write(self, path, write, binary=False):
        """Stage the content of ``path`` (see the class docstring)."""
        try:
            self._staged.append((_write_temp(path, write, binary), path))
        except OSError as exc:
            raise FileWriteError(path, exc) from exc

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self._commit()
        finally:
            for tmp, _ in self._staged:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            self._staged = []
        return False

    def _commit(self):
        for tmp, path in self._staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise FileWriteError(path, exc) from exc
        for folder in {os.path.dirname(os.path.abspath(p)) for _, p in self._staged}:
            try:
                _fsync_folder(folder)
            except OSError:
                pass    # some file systems refuse a folder fsync; the files are complete


def write_files_atomic(items, binary=False):
    """Write several files so that either all are replaced or none is (:class:`AtomicFiles`).

    Args:
        items: sequence of ``(path, write)``; ``write(f)`` writes the content to the open
            file object ``f``.
        binary: open the files in binary mode.

    Raises:
        FileWriteError: naming the file that could not be written and the cause.
    """
    with AtomicFiles() as files:
        for path, write in items:
            files.write(path, write, binary)


def write_atomic(path, write, binary=False):
    """Write one file atomically (see :func:`write_files_atomic`)."""
    write_files_atomic([(path, write)], binary=binary)


def json_writer(obj, **kwargs):
    """A ``write(f)`` function for :func:`write_files_atomic` that dumps ``obj`` as JSON
    (``kwargs`` go to :func:`json.dump`)."""
    return lambda f: json.dump(obj, f, **kwargs)


def write_json_atomic(path, obj, **kwargs):
    """``json.dump(obj)`` into ``path`` atomically; ``kwargs`` go to :func:`json.dump`.

    Raises:
        FileWriteError: the file could not be written (the old one is left as it was).
    """
    write_atomic(path, json_writer(obj, **kwargs))
