"""The zoo's download cache: ``$MIPNET_HOME`` (default ``~/.cache/mipnet``).

Layout::

    checkpoints/<file name>          the published file (download, or put there by hand)
    checkpoints/<stem>.onnx          a detector unpacked from its zip (+ <stem>.onnx.sha256)
    converted/<stem>.pth             an mmpose checkpoint in this port's keys (+ .sha256)
    digests/<file name>.sha256       SHA-256 recorded at first download (no published digest)
    locks/<file name>.lock           one lock per file (never deleted)

Every step that writes holds the file's lock (``fcntl.flock``), so two processes asking for
the same file (the ranks of a torchrun job, two jobs) download it once: the second waits,
then finds it and verifies it. Downloads go to a temporary file in the same folder, are
checked (length, digest), then renamed into place, so the cache never holds a partial
file under its real name. Every file is verified before it is handed out: against the
published SHA-256 prefix of its name, or against the digest recorded at first download; a
cached file that fails is downloaded again.
"""
import contextlib
import fcntl
import hashlib
import http.client
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

from mipnet.utils.checkpoint import CheckpointError, file_sha256
from mipnet.zoo.entries import ZooEntry

logger = logging.getLogger(__name__)

__all__ = ['ZooError', 'zoo_home', 'raw_path', 'local_file', 'is_cached', 'resolve_entry',
           'download', 'TIMEOUT']

#: seconds without data before a download is given up
TIMEOUT = 60.0
_CHUNK = 1 << 20


class ZooError(CheckpointError):
    """A zoo file cannot be had: unknown name, failed or refused download, bad digest."""


def zoo_home():
    """The cache folder: ``$MIPNET_HOME``, else ``~/.cache/mipnet``."""
    return os.path.abspath(os.path.expanduser(
        os.environ.get('MIPNET_HOME') or os.path.join('~', '.cache', 'mipnet')))


def _stem(filename):
    return filename.rsplit('.', 1)[0]


def raw_path(entry):
    """Where the published file is cached (and where to put it by hand)."""
    return os.path.join(zoo_home(), 'checkpoints', entry.filename)


def local_file(entry):
    """The file this port loads: the published file, its conversion (mmpose layouts) or its
    unpacked ONNX model (rtmlib zips)."""
    if entry.layout.startswith('mmpose'):
        return os.path.join(zoo_home(), 'converted', _stem(entry.filename) + '.pth')
    if entry.layout == 'rtmlib-zip':
        return os.path.join(zoo_home(), 'checkpoints', _stem(entry.filename) + '.onnx')
    return raw_path(entry)


def _record_path(entry):
    return os.path.join(zoo_home(), 'digests', entry.filename + '.sha256')


def is_cached(entry):
    """True when the file this port loads is in the cache (not verified here)."""
    return os.path.isfile(local_file(entry))


@contextlib.contextmanager
def _locked(entry):
    folder = os.path.join(zoo_home(), 'locks')
    os.makedirs(folder, exist_ok=True)
    # The lock file stays: deleting it would let two processes lock different files.
    fd = os.open(os.path.join(folder, entry.filename + '.lock'), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_digest(path):
    try:
        with open(path) as f:
            return (f.read().split() or [''])[0].lower()
    except FileNotFoundError:
        return ''


def _write_digest(path, digest, filename):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=os.path.dirname(path))
    with os.fdopen(fd, 'w') as f:
        f.write(f'{digest}  {filename}\n')
    os.replace(tmp, path)


def _manual_hint(entry):
    where = raw_path(entry)
    if entry.url:
        return (f'download {entry.url} by hand and put it at {where} (or point MIPNET_HOME at '
                f'a folder whose checkpoints/ holds it)')
    return f'download it by hand from the {entry.manual} and save it as {where}'


def _check(entry, path, digest):
    """None when ``digest`` (hex SHA-256 of ``path``) is the expected one, else the reason."""
    if entry.sha256_prefix:
        if not digest.startswith(entry.sha256_prefix.lower()):
            return (f'its SHA-256 {digest} does not start with {entry.sha256_prefix}, the '
                    f'digest in its published name')
        return None
    recorded = _read_digest(_record_path(entry))
    if recorded and digest != recorded:
        return (f'its SHA-256 {digest} differs from {recorded}, recorded at its first download '
                f'({_record_path(entry)})')
    return None


def download(url, dest, progress=True, timeout=TIMEOUT):
    """Download ``url`` to ``dest`` through a temporary file in the same folder.

    Returns:
        the hex SHA-256 of the file written.

    Raises:
        OSError (urllib.error.URLError included): the download failed or was cut short; no
            file is left at ``dest`` or beside it.
    """
    from tqdm import tqdm
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(dest) + '.', suffix='.part',
                               dir=folder)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get('Content-Length')
            total = int(total) if total and total.isdigit() else None
            done = 0
            with tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024,
                      desc=os.path.basename(dest), disable=not progress, file=sys.stderr,
                      dynamic_ncols=True) as bar:
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
            if total is not None and done != total:
                raise OSError(f'the download stopped after {done} of {total} bytes')
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return digest.hexdigest()


def _url(entry):
    """The entry's URL, or its file under ``$MIPNET_ZOO_MIRROR`` (a folder or server that
    holds the published files by name) when that is set."""
    mirror = os.environ.get('MIPNET_ZOO_MIRROR', '').strip()
    if mirror:
        return mirror.rstrip('/') + '/' + entry.filename
    return entry.url


def _fetch_raw(entry, progress):
    """The verified published file (downloaded when missing or damaged). Hold the lock."""
    path = raw_path(entry)
    if os.path.isfile(path):
        why = _check(entry, path, file_sha256(path))
        if why is None:
            _record(entry, path)
            return path
        if not _url(entry):
            raise ZooError(f'zoo file {path} ({entry.name}) fails its check: {why}. It is '
                           f'damaged or another file; {_manual_hint(entry)}')
        logger.warning('zoo file %s fails its check (%s): downloading it again', path, why)
        os.unlink(path)
    url = _url(entry)
    if not url:
        raise ZooError(f'{entry.name} ({entry.filename}) has no plain download: '
                       f'{_manual_hint(entry)}')
    _remove_partial(path)
    logger.info('downloading %s (%s) from %s to %s', entry.name,
                f'about {entry.approx_mb:.0f} MB' if entry.approx_mb else 'size unknown', url,
                path)
    try:
        digest = download(url, path, progress=progress)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError is an OSError
        reason = getattr(exc, 'reason', None) or exc
        raise ZooError(f'cannot download {entry.name} from {url} ({reason}); offline? '
                       f'{_manual_hint(entry)}') from None
    why = _check(entry, path, digest)
    if why is not None:
        os.unlink(path)
        raise ZooError(f'the download of {entry.name} from {url} was refused: {why}. The file '
                       f'on the server changed or the download was corrupted; nothing was kept')
    _record(entry, path, digest)
    return path


def _remove_partial(path):
    """Delete the temporary files a killed download of ``path`` left (hold the lock)."""
    folder, name = os.path.split(path)
    for other in os.listdir(folder) if os.path.isdir(folder) else ():
        if other.startswith('.' + name + '.') and other.endswith('.part'):
            os.unlink(os.path.join(folder, other))


def _record(entry, path, digest=None):
    """Record the digest of a file that has no published one, at its first use."""
    if entry.sha256_prefix or os.path.isfile(_record_path(entry)):
        return
    digest = digest or file_sha256(path)
    _write_digest(_record_path(entry), digest, entry.filename)
    logger.info('zoo: recorded SHA-256 %s of %s (no published digest); later uses are checked '
                'against it', digest, entry.filename)


def _derived_ok(path):
    """A derived file (conversion, unpacked model) with a matching ``<path>.sha256``."""
    return os.path.isfile(path) and _read_digest(path + '.sha256') == file_sha256(path)


def _derive(entry, raw, dest):
    if entry.layout.startswith('mmpose'):
        from mipnet.zoo.convert import convert_file
        convert_file(raw, dest, entry.layout)
    else:
        _unpack_onnx(entry, raw, dest)
    _write_digest(dest + '.sha256', file_sha256(dest), os.path.basename(dest))


def _unpack_onnx(entry, raw, dest):
    try:
        with zipfile.ZipFile(raw) as archive:
            members = [n for n in archive.namelist() if n.endswith('end2end.onnx')]
            if len(members) != 1:
                raise ZooError(f'{raw} ({entry.name}) holds {len(members)} end2end.onnx files; '
                               'expected one (an rtmlib / mmdeploy ONNX export)')
            fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(dest) + '.',
                                       suffix='.part', dir=os.path.dirname(dest))
            try:
                with os.fdopen(fd, 'wb') as out, archive.open(members[0]) as src:
                    while True:
                        chunk = src.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                os.replace(tmp, dest)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except zipfile.BadZipFile as exc:
        raise ZooError(f'{raw} ({entry.name}) is not a valid zip file ({exc})') from None


def resolve_entry(entry, progress=True):
    """The local, verified file of ``entry`` that this port loads, fetched and prepared
    (converted, unpacked) as needed.

    Raises:
        ZooError: the file cannot be downloaded or put in place, or fails its check; the
            message names the URL and where to put the file by hand.
    """
    if not isinstance(entry, ZooEntry):
        raise TypeError(f'expected a ZooEntry, got {type(entry).__name__}')
    dest = local_file(entry)
    try:
        with _locked(entry):
            if dest != raw_path(entry):
                if _derived_ok(dest):
                    return dest
                raw = _fetch_raw(entry, progress)
                _derive(entry, raw, dest)
                return dest
            return _fetch_raw(entry, progress)
    except ZooError:
        raise
    except CheckpointError as exc:
        raise ZooError(f'{entry.name}: {exc}') from None
    except OSError as exc:
        where = f' {exc.filename}' if exc.filename else ''
        raise ZooError(f'cannot prepare {entry.name} in the zoo cache {zoo_home()}:{where} '
                       f'{exc.strerror or exc} (set MIPNET_HOME to a writable folder)') from None
