"""A decoded-image cache: every image of a dataset decoded once into one raw uint8 file.

JPEG decoding is most of a DataLoader worker's time (about 1.3-2.2 ms of a COCO image on one
core here, against ~0.3 ms for the augmentation, the ``warpAffine`` and the batching), so a
worker that decodes caps the data pipeline however little else it does. With a cache the
worker reads the crop's source pixels straight from a memory map: the same pixels
:func:`~mipnet.data.coco.decode_image` returns (it made them), so training and evaluation
are unchanged to the bit, at the cost of disk space (height x width x 3 bytes per image;
about 0.9 MB for a 640 x 480 COCO image).

Layout of a cache folder:

* ``pixels.u8``: the images, BGR uint8 (H, W, 3), back to back;
* ``index.json``: ``{"format": "mipnet-image-cache", "version": 1, "decoder": ...,
  "pixel_bytes": N, "images": {absolute path: [offset, height, width, source size,
  source mtime_ns]}, "broken": {absolute path: [reason, source size, source mtime_ns]}}``.

The index is written last (both files are renamed into place), so a build cut short never
leaves a cache that opens. Each read checks the source file's size and mtime against the
index when the file still exists and refuses a changed image (rebuild the cache); when
the source was removed the cached pixels are used.

Build one with ``tools/cache_images.py`` and use it with ``DATASET.IMAGE_CACHE <folder>``.
"""
import json
import logging
import os
import shutil
import time

import numpy as np

from mipnet.data.errors import DataError

__all__ = ['ImageCache', 'ImageCacheError', 'build_image_cache', 'INDEX_FILE', 'PIXELS_FILE']

logger = logging.getLogger(__name__)

INDEX_FILE = 'index.json'
PIXELS_FILE = 'pixels.u8'
_FORMAT = 'mipnet-image-cache'
_VERSION = 1


class ImageCacheError(DataError):
    """A missing, corrupt or stale image cache, or a cache that cannot be written."""


def _source_stamp(path):
    """(size, mtime_ns) of a file, or None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


class ImageCache:
    """Read side of a cache folder (see the module docstring).

    The memory map is opened lazily in each process that reads (DataLoader workers included)
    and is never pickled: a dataset holding a cache pickles to a few hundred bytes plus the
    index.

    Args:
        folder: the cache folder.

    Raises:
        ImageCacheError: no index, an index of another format or version, or a pixel file
            whose size differs from the index's (cut short or replaced).
    """

    def __init__(self, folder):
        self.folder = os.path.abspath(folder)
        index_path = os.path.join(self.folder, INDEX_FILE)
        rebuild = (f'build it with `python tools/cache_images.py --cfg <config> --out '
                   f'{folder}` or remove DATASET.IMAGE_CACHE.')
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
                or not isinstance(index.get('broken'), dict):
            raise ImageCacheError(f'image cache {folder}: {INDEX_FILE} is not a version '
                                  f'{_VERSION} {_FORMAT} index; {rebuild}')
        self.pixel_bytes = int(index.get('pixel_bytes', -1))
        self.pixels_path = os.path.join(self.folder, PIXELS_FILE)
        size = os.path.getsize(self.pixels_path) if os.path.isfile(self.pixels_path) else -1
        if size != self.pixel_bytes:
            raise ImageCacheError(
                f'image cache {folder}: {PIXELS_FILE} has {size} bytes but the index says '
                f'{self.pixel_bytes} (cut short or replaced); {rebuild}')
        self.decoder = index.get('decoder', '')
        self.images = index['images']
        self.broken = index['broken']
        self._pixels = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_pixels'] = None
        return state

    def __len__(self):
        return len(self.images) + len(self.broken)

    def __contains__(self, path):
        key = os.path.abspath(path)
        return key in self.images or key in self.broken

    def _check_source(self, path, size, mtime_ns):
        stamp = _source_stamp(path)
        if stamp is not None and stamp != (size, mtime_ns):
            raise ImageCacheError(
                f'image {path} changed after the image cache {self.folder} was built (size '
                f'or modification time differ); rebuild the cache with tools/cache_images.py '
                'or remove DATASET.IMAGE_CACHE.')

    def read(self, path):
        """The cached decode of ``path``, as :func:`~mipnet.data.coco.decode_image` returns it.

        Returns:
            (image, None) with a read-only BGR uint8 (H, W, 3) view of the memory map, or
            (None, reason) for an image that was broken when the cache was built.

        Raises:
            KeyError: ``path`` is not in the cache (test with ``in``).
            ImageCacheError: the source file changed since the cache was built.
        """
        key = os.path.abspath(path)
        entry = self.images.get(key)
        if entry is None:
            reason, size, mtime_ns = self.broken[key]
            self._check_source(path, size, mtime_ns)
            return None, reason
        offset, height, width, size, mtime_ns = entry
        self._check_source(path, size, mtime_ns)
        if self._pixels is None:
            self._pixels = np.memmap(self.pixels_path, dtype=np.uint8, mode='r')
        count = height * width * 3
        return self._pixels[offset:offset + count].view(np.ndarray).reshape(height, width, 3), \
            None


def build_image_cache(paths, folder, decode, sizes=None, overwrite=False, log_every=1000):
    """Decode ``paths`` once with ``decode`` and write the cache folder ``folder``.

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
            lacks the disk space, or a write fails (the partial files are removed).
    """
    import cv2  # the decoder version is recorded; imported here to keep the module light

    folder = os.path.abspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ImageCacheError(f'image cache folder {folder} is a file; choose a folder.')
    if os.path.isfile(os.path.join(folder, INDEX_FILE)) and not overwrite:
        raise ImageCacheError(f'{folder} already holds an image cache; pass --overwrite to '
                              'replace it or choose another folder.')
    unique = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ImageCacheError(f'cannot create the image cache folder {folder}: '
                              f'{exc.strerror or exc}') from None
    if sizes:
        need = sum(int(w) * int(h) * 3 for w, h in
                   (sizes[p] for p in unique if p in sizes))
        free = shutil.disk_usage(folder).free
        if need > free:
            raise ImageCacheError(
                f'the image cache needs about {need / 2 ** 30:.2f} GiB but {folder} has '
                f'{free / 2 ** 30:.2f} GiB free; free space or choose another folder.')
    pixels_tmp = os.path.join(folder, PIXELS_FILE + '.part')
    index_tmp = os.path.join(folder, INDEX_FILE + '.part')
    images, broken, offset = {}, {}, 0
    start = time.perf_counter()
    try:
        with open(pixels_tmp, 'wb') as out:
            for i, path in enumerate(unique, 1):
                stamp = _source_stamp(path) or (-1, -1)
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
        with open(index_tmp, 'w', encoding='utf-8') as f:
            json.dump({'format': _FORMAT, 'version': _VERSION,
                       'decoder': f'opencv {cv2.__version__}', 'pixel_bytes': offset,
                       'images': images, 'broken': broken}, f)
        # An old index never meets the new pixels: it goes first, the new one comes last.
        if os.path.exists(os.path.join(folder, INDEX_FILE)):
            os.remove(os.path.join(folder, INDEX_FILE))
        os.replace(pixels_tmp, os.path.join(folder, PIXELS_FILE))
        os.replace(index_tmp, os.path.join(folder, INDEX_FILE))
    except OSError as exc:
        for tmp in (pixels_tmp, index_tmp):
            if os.path.exists(tmp):
                os.remove(tmp)
        raise ImageCacheError(f'writing the image cache {folder} failed after '
                              f'{offset / 2 ** 30:.2f} GiB: {exc.strerror or exc}; the partial '
                              'files were removed.') from None
    return {'folder': folder, 'images': len(images), 'broken': len(broken),
            'pixel_bytes': offset, 'seconds': time.perf_counter() - start}
