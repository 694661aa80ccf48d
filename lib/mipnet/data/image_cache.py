"""A decoded-image cache: every image of a dataset decoded once into one raw uint8 file.

JPEG decoding is most of a DataLoader worker's time (1.3-2.7 ms per image of the real
fixtures on one core here, against ~0.3 ms for the augmentation, the ``warpAffine`` and the
batching), so a worker that decodes caps the data pipeline however little else it does.
With a cache the worker reads the crop's source pixels straight from a memory map: the same pixels
:func:`~mipnet.data.coco.decode_image` returns (it made them), so training and evaluation
are unchanged to the bit, at the cost of disk space (height x width x 3 bytes per image;
about 0.9 MB for a 640 x 480 COCO image).

Layout of a cache folder:

* ``pixels.u8``: the images, BGR uint8 (H, W, 3), back to back;
* ``index.json``: ``{"format": "mipnet-image-cache", "version": 1, "decoder": ...,
  "pixel_bytes": N, "images": {absolute path: [offset, height, width, source size,
  source mtime_ns]}, "broken": {absolute path: [reason, source size, source mtime_ns]}}``.

The index is written last (both files are synced and renamed into place), so a build cut
short never leaves a cache that opens. The first read of each image in a process checks the
source file's size and mtime against the index when the file still exists and refuses a
changed image (rebuild the cache); when the source was removed the cached pixels are used.
Images listed under "broken" (unreadable at build time) are decoded from their files again
by the dataset.

Build one with ``tools/cache_images.py`` and use it with ``DATASET.IMAGE_CACHE <folder>``.
"""
import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time

import cv2
import numpy as np

from mipnet.data.errors import DataError

__all__ = ['ImageCache', 'ImageCacheError', 'build_image_cache', 'INDEX_FILE', 'PIXELS_FILE',
           'DECODER']

logger = logging.getLogger(__name__)

INDEX_FILE = 'index.json'
PIXELS_FILE = 'pixels.u8'
#: what decodes the images (recorded in the index; another version may decode other pixels)
DECODER = f'opencv {cv2.__version__}'
_FORMAT = 'mipnet-image-cache'
_VERSION = 1
_LOCK_FILE = '.build.lock'


class ImageCacheError(DataError):
    """A missing, corrupt or stale image cache, or a cache that cannot be written."""


def _source_stamp(path):
    """(size, mtime_ns) of a file, or None when it does not exist.

    Raises:
        OSError: the file exists but cannot be examined (e.g. its folder is not searchable).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class ImageCache:
    """Read side of a cache folder (see the module docstring).

    The memory map is opened lazily in each process that reads (DataLoader workers included)
    and is never pickled: a dataset holding a cache pickles to a few hundred bytes plus the
    index. Opening it checks that ``pixels.u8`` is still the file this object's index
    describes, so a cache rebuilt under a running job is an error, not other pixels. Each
    image's source file is checked once per process (not at every sample, which on a network
    file system would cost a metadata round trip each).

    Images that were unreadable when the cache was built are not served from it: the dataset
    decodes them from their files again, so a fixed file is read and a broken one gives the
    dataset's own error.

    Args:
        folder: the cache folder.

    Raises:
        ImageCacheError: no such folder, no index, an index of another format or version or
            with malformed entries, or a pixel file that is missing, unreadable or whose size
            differs from the index's (cut short or replaced).
    """

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        rebuild = (f'rebuild it with `python tools/cache_images.py --cfg <config> --out '
                   f'{folder} --overwrite` or remove DATASET.IMAGE_CACHE.')
        if not os.path.isdir(self.folder):
            what = 'is a file, not a cache folder' if os.path.exists(self.folder) else \
                'does not exist'
            raise ImageCacheError(f'image cache {folder} {what}; {rebuild}')
        index_path = os.path.join(self.folder, INDEX_FILE)
        if not os.path.isfile(index_path):
            raise ImageCacheError(f'image cache {folder}: no {INDEX_FILE}; {rebuild}')
        try:
            with open(index_path, encoding='utf-8') as f:
                index = json.load(f)
        except (OSError, ValueError) as exc:
            raise ImageCacheError(f'image cache {folder}: {INDEX_FILE} cannot be read '
                                  f'({exc}); {rebuild}') from None
        if not isinstance(index, dict) or index.get('format') != _FORMAT \
                or index.get('version') != _VERSION \
                or not isinstance(index.get('images'), dict) \
                or not isinstance(index.get('broken'), dict) \
                or not _is_count(index.get('pixel_bytes')):
            raise ImageCacheError(f'image cache {folder}: {INDEX_FILE} is not a version '
                                  f'{_VERSION} {_FORMAT} index; {rebuild}')
        self.pixel_bytes = index['pixel_bytes']
        for path, entry in index['images'].items():
            if not (isinstance(entry, list) and len(entry) == 5
                    and all(isinstance(v, int) and not isinstance(v, bool) for v in entry)
                    and _is_count(entry[0])
                    and entry[1] > 0 and entry[2] > 0
                    and entry[0] + entry[1] * entry[2] * 3 <= self.pixel_bytes):
                raise ImageCacheError(f'image cache {folder}: the {INDEX_FILE} entry of {path} '
                                      f'is malformed ({entry!r}); {rebuild}')
        self.pixels_path = os.path.join(self.folder, PIXELS_FILE)
        try:
            with open(self.pixels_path, 'rb') as f:
                st = os.fstat(f.fileno())
        except FileNotFoundError:
            raise ImageCacheError(f'image cache {folder}: no {PIXELS_FILE}; {rebuild}') from None
        except OSError as exc:
            raise ImageCacheError(f'image cache {folder}: {PIXELS_FILE} cannot be read '
                                  f'({exc.strerror}); make it readable or {rebuild}') from None
        if st.st_size != self.pixel_bytes:
            raise ImageCacheError(
                f'image cache {folder}: {PIXELS_FILE} has {st.st_size} bytes but the index '
                f'says {self.pixel_bytes} (cut short or replaced); {rebuild}')
        self._identity = (st.st_ino, st.st_size, st.st_mtime_ns)
        self.decoder = index.get('decoder', '')
        if self.decoder != DECODER:
            logger.warning('image cache %s was decoded by %s, this process decodes with %s: '
                           'its pixels may differ from a fresh decode; rebuild it with '
                           'tools/cache_images.py --overwrite to be sure.', folder,
                           self.decoder or 'an unknown decoder', DECODER)
        self.images = index['images']
        self.broken = index['broken']
        self._pixels = None
        self._checked = set()

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_pixels'] = None
        state['_checked'] = set()
        return state

    def __len__(self):
        return len(self.images)

    def __contains__(self, path):
        """Whether the cache holds the decoded pixels of ``path``."""
        return os.path.abspath(path) in self.images

    def _open(self):
        """Memory-map the pixel file, refusing one that is not the file the index was read
        with (a rebuild replaces it)."""
        try:
            with open(self.pixels_path, 'rb') as f:
                st = os.fstat(f.fileno())
                if (st.st_ino, st.st_size, st.st_mtime_ns) != self._identity:
                    raise ImageCacheError(
                        f'image cache {self.folder} was rebuilt or replaced after this job read '
                        f'its index; restart the job.')
                self._pixels = np.memmap(f, dtype=np.uint8, mode='r') if st.st_size else \
                    np.zeros(0, np.uint8)
        except OSError as exc:
            raise ImageCacheError(f'image cache {self.folder}: {PIXELS_FILE} cannot be read '
                                  f'({exc.strerror}).') from None

    def _check_source(self, path, size, mtime_ns):
        try:
            stamp = _source_stamp(path)
        except OSError as exc:
            raise ImageCacheError(
                f'image {path} cannot be checked against the image cache {self.folder} '
                f'({exc.strerror}); make its folder readable or remove DATASET.IMAGE_CACHE.'
            ) from None
        if stamp is not None and stamp != (size, mtime_ns):
            raise ImageCacheError(
                f'image {path} changed after the image cache {self.folder} was built (size '
                f'or modification time differ); rebuild the cache with tools/cache_images.py '
                '--overwrite or remove DATASET.IMAGE_CACHE.')

    def read(self, path):
        """The cached decode of ``path``: what :func:`~mipnet.data.coco.decode_image` returned
        for it when the cache was built.

        Returns:
            (image, None): a read-only BGR uint8 (H, W, 3) view of the memory map.

        Raises:
            KeyError: ``path`` is not in the cache (test with ``in``).
            ImageCacheError: the source file changed since the cache was built, or the cache
                was rebuilt under this job.
        """
        key = os.path.abspath(path)
        offset, height, width, size, mtime_ns = self.images[key]
        if key not in self._checked:
            self._check_source(path, size, mtime_ns)
            self._checked.add(key)
        if self._pixels is None:
            self._open()
        count = height * width * 3
        return self._pixels[offset:offset + count].view(np.ndarray).reshape(height, width, 3), \
            None


def _fsync_dir(folder):
    """Make the renames durable; file systems that cannot sync a folder are left as they are
    (the cache is complete either way)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise ImageCacheError(f'the image cache {folder} is complete but syncing its '
                                  f'folder failed ({exc.strerror}); it may not survive a power '
                                  'loss.') from None
    finally:
        os.close(fd)


def build_image_cache(paths, folder, decode, sizes=None, overwrite=False, log_every=1000):
    """Decode ``paths`` once with ``decode`` and write the cache folder ``folder``.

    The files are written under temporary names, synced, and renamed into place, the index
    last, under an exclusive lock (``<folder>/.build.lock``, which stays): a build cut short
    by an error or Ctrl-C removes its partial files (those of a killed build are removed by
    the next build), never leaves a cache that opens, and two builds into one folder cannot
    mix.

    Args:
        paths: image files (duplicates are decoded once).
        folder: the cache folder (created).
        decode: ``path -> (BGR uint8 (H, W, 3) image, None) or (None, reason)``, the
            dataset's decoder (:func:`mipnet.data.coco.decode_image`).
        sizes: optional ``{path: (width, height)}`` from the annotation file, to refuse a
            build the free disk space cannot hold before decoding anything.
        overwrite: replace an existing cache in ``folder``.
        log_every: log progress every this many images.

    Returns:
        dict with 'images', 'broken' (counts), 'pixel_bytes', 'seconds', 'folder'.

    Raises:
        ImageCacheError: ``folder`` already holds a cache (and not ``overwrite``), is a file,
            is being written by another build, lacks the disk space, or a write fails.
    """
    folder = os.path.abspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ImageCacheError(f'image cache folder {folder} is a file; choose a folder.')
    lock_path = os.path.join(folder, _LOCK_FILE)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ImageCacheError(f'cannot create the image cache folder {folder}: '
                              f'{exc.strerror or exc}') from None
    try:
        lock = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError:
        try:                    # a lock file left by another user: a read handle still locks
            lock = os.open(lock_path, os.O_RDONLY)
        except OSError as exc:
            raise ImageCacheError(f'cannot open the build lock {lock_path}: '
                                  f'{exc.strerror or exc}; check the folder\'s permissions.'
                                  ) from None
    # The lock file stays: deleting it would let a build that opened the old file and one
    # that creates a new file both hold "the" lock.
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImageCacheError(f'another build is writing the image cache {folder}; wait '
                                  'for it or choose another folder.') from None
        return _build_locked(paths, folder, decode, sizes, overwrite, log_every)
    finally:
        os.close(lock)


def _build_locked(paths, folder, decode, sizes, overwrite, log_every):
    if os.path.isfile(os.path.join(folder, INDEX_FILE)) and not overwrite:
        raise ImageCacheError(f'{folder} already holds an image cache; pass --overwrite to '
                              'replace it or choose another folder.')
    # Partial files of a build killed by a signal (no cleanup ran); no build is running now.
    for name in os.listdir(folder):
        if name.endswith('.part') and name.startswith((PIXELS_FILE + '.', INDEX_FILE + '.')):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))
    unique = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    if sizes:
        sizes = {os.path.abspath(p): wh for p, wh in sizes.items()}
        need = sum(int(w) * int(h) * 3 for w, h in
                   (sizes[p] for p in unique if p in sizes))
        free = shutil.disk_usage(folder).free
        if need > free:
            raise ImageCacheError(
                f'the image cache needs about {need / 2 ** 30:.2f} GiB but {folder} has '
                f'{free / 2 ** 30:.2f} GiB free; free space or choose another folder.')
    temps = []
    images, broken, offset = {}, {}, 0
    start = time.perf_counter()
    try:
        fd, pixels_tmp = tempfile.mkstemp(prefix=PIXELS_FILE + '.', suffix='.part', dir=folder)
        temps.append(pixels_tmp)
        with open(fd, 'wb') as out:
            for i, path in enumerate(unique, 1):
                try:
                    stamp = _source_stamp(path) or (-1, -1)
                except OSError:
                    stamp = (-1, -1)        # the decode below says what is wrong
                img, why = decode(path)
                if img is None:
                    broken[path] = [why, *stamp]
                else:
                    img = np.ascontiguousarray(img, dtype=np.uint8)
                    out.write(memoryview(img).cast('B'))
                    images[path] = [offset, img.shape[0], img.shape[1], *stamp]
                    offset += img.nbytes
                if log_every and i % log_every == 0:
                    logger.info('image cache: %d / %d images, %.2f GiB', i, len(unique),
                                offset / 2 ** 30)
            out.flush()
            os.fsync(out.fileno())
        fd, index_tmp = tempfile.mkstemp(prefix=INDEX_FILE + '.', suffix='.part', dir=folder)
        temps.append(index_tmp)
        with open(fd, 'w', encoding='utf-8') as f:
            json.dump({'format': _FORMAT, 'version': _VERSION, 'decoder': DECODER,
                       'pixel_bytes': offset, 'images': images, 'broken': broken}, f)
            f.flush()
            os.fsync(f.fileno())
        for tmp in temps:
            os.chmod(tmp, 0o644)          # mkstemp makes 0600; readers may be other users
        # An old index never meets the new pixels: it goes first, the new one comes last.
        if os.path.exists(os.path.join(folder, INDEX_FILE)):
            os.remove(os.path.join(folder, INDEX_FILE))
        os.replace(pixels_tmp, os.path.join(folder, PIXELS_FILE))
        os.replace(index_tmp, os.path.join(folder, INDEX_FILE))
        temps.clear()
        _fsync_dir(folder)
    except OSError as exc:
        raise ImageCacheError(f'writing the image cache {folder} failed after '
                              f'{offset / 2 ** 30:.2f} GiB: {exc.strerror or exc}; the partial '
                              'files were removed.') from None
    finally:
        for tmp in temps:           # also on Ctrl-C: never leave gigabytes of partial files
            if os.path.exists(tmp):
                os.remove(tmp)
    return {'folder': folder, 'images': len(images), 'broken': len(broken),
            'pixel_bytes': offset, 'seconds': time.perf_counter() - start}
