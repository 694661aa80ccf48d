"""The decoded-image cache (DATASET.IMAGE_CACHE): same pixels and samples as decoding the
JPEGs, and one clear error for every way a cache can be missing, cut short or stale."""
import errno
import json
import logging
import os
import pickle
import random
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mipnet.config import load_config, run_differences
from mipnet.data import (DataError, ImageCache, ImageCacheError, build_dataset,
                         build_image_cache)
from mipnet.data import image_cache as image_cache_module
from mipnet.data.coco import decode_image
from mipnet.data.image_cache import DECODER, INDEX_FILE, PIXELS_FILE
from mipnet.cli.cache_images import main as cache_images_main

from tests.conftest import FIXTURES

AUGMENT = ('DATASET.FLIP', True, 'DATASET.SCALE_FACTOR', 0.35, 'DATASET.ROT_FACTOR', 45,
           'DATASET.PROB_HALF_BODY', 0.5, 'DATASET.COLOR_RGB', True)


@pytest.fixture
def coco_copy(tmp_path, tiny_cfg):
    """A private copy of the COCO fixtures: (image_dir, annotation file, cfg factory)."""
    folder = tmp_path / 'coco'
    shutil.copytree(FIXTURES / 'coco', folder)
    ann = folder / 'test_coco.json'

    def cfg(*opts):
        return tiny_cfg(folder, ann, 'MODEL.NUM_JOINTS', 17, *AUGMENT, *opts)
    return folder, ann, cfg


def _images(folder):
    return sorted(str(p) for p in folder.glob('*.jpg'))


def _seeded_batch(ds, seed, n):
    np.random.seed(seed)
    random.seed(seed)
    return next(iter(DataLoader(ds, batch_size=n)))


def test_cached_pixels_equal_the_decode_and_broken_images_keep_their_reason(tmp_path):
    folder = tmp_path / 'imgs'
    shutil.copytree(FIXTURES / 'coco', folder)
    paths = _images(folder)
    (folder / 'cut.jpg').write_bytes((folder / os.path.basename(paths[0])).read_bytes()[:5000])
    (folder / 'empty.jpg').write_bytes(b'')
    bad = [str(folder / 'cut.jpg'), str(folder / 'empty.jpg'), str(folder / 'missing.jpg')]
    done = build_image_cache(paths + bad + paths[:1], tmp_path / 'cache', decode_image)
    assert (done['images'], done['broken']) == (len(paths), 3)
    sizes = [decode_image(p)[0].nbytes for p in paths]
    assert done['pixel_bytes'] == sum(sizes) == os.path.getsize(tmp_path / 'cache' / PIXELS_FILE)
    cache = ImageCache(tmp_path / 'cache')
    for path in paths:
        img, why = cache.read(path)
        assert why is None and img.dtype == np.uint8 and not img.flags.writeable
        np.testing.assert_array_equal(img, decode_image(path)[0])
    for path in bad:             # recorded with their reason, then decoded again by the dataset
        assert path not in cache and cache.broken[path][0] == decode_image(path)[1]
        with pytest.raises(KeyError):
            cache.read(path)
    assert len(cache) == len(paths) and str(folder / 'other.jpg') not in cache


@pytest.mark.parametrize('is_train', [True, False])
def test_dataset_items_with_the_cache_equal_those_without(coco_copy, tmp_path, is_train):
    folder, _, cfg = coco_copy
    build_image_cache(_images(folder), tmp_path / 'cache', decode_image)
    for device_targets in (False, True):
        plain = build_dataset(cfg(), is_train, device_targets=device_targets)
        cached = build_dataset(cfg('DATASET.IMAGE_CACHE', tmp_path / 'cache'), is_train,
                               device_targets=device_targets)
        assert plain.image_cache is None and isinstance(cached.image_cache, ImageCache)
        n = len(plain)
        for seed in range(2):
            a, b = _seeded_batch(plain, seed, n), _seeded_batch(cached, seed, n)
            assert cached.image_cache._pixels is not None        # read from the cache
            for x, y in zip(a[:-1], b[:-1]):
                assert torch.equal(x, y)
            assert a[-1]['image'] == b[-1]['image']
            torch.testing.assert_close(a[-1]['center'], b[-1]['center'], rtol=0, atol=0)


def test_workers_read_the_cache_and_the_dataset_pickles_without_pixels(coco_copy, tmp_path):
    folder, _, cfg = coco_copy
    build_image_cache(_images(folder), tmp_path / 'cache', decode_image)
    ds = build_dataset(cfg('DATASET.IMAGE_CACHE', tmp_path / 'cache'), False,
                       device_targets=True)
    in_process = next(iter(DataLoader(ds, batch_size=len(ds))))
    assert ds.image_cache._pixels is not None            # opened on first read
    state = pickle.dumps(ds.image_cache)
    restored = pickle.loads(state)
    assert len(state) < 4096 and restored._pixels is None and restored._checked == set()
    for context in ('fork', 'spawn'):
        workers = next(iter(DataLoader(ds, batch_size=len(ds), num_workers=2,
                                       multiprocessing_context=context)))
        assert torch.equal(in_process[0], workers[0])


def test_a_cache_rebuilt_under_a_running_job_is_an_error(tmp_path):
    paths = _images(FIXTURES / 'coco')
    build_image_cache(paths, tmp_path / 'cache', decode_image)
    running = ImageCache(tmp_path / 'cache')
    build_image_cache(paths[::-1], tmp_path / 'cache', decode_image, overwrite=True)
    with pytest.raises(ImageCacheError, match='was rebuilt or replaced after this job read its '
                                              'index; restart the job'):
        running.read(paths[0])
    np.testing.assert_array_equal(ImageCache(tmp_path / 'cache').read(paths[0])[0],
                                  decode_image(paths[0])[0])


def test_an_image_broken_at_build_time_is_read_once_it_is_fixed(coco_copy, tmp_path):
    folder, _, cfg = coco_copy
    paths = _images(folder)
    good = (folder / os.path.basename(paths[0])).read_bytes()
    (folder / os.path.basename(paths[0])).write_bytes(b'')
    done = build_image_cache(paths, tmp_path / 'cache', decode_image)
    assert done['broken'] == 1
    (folder / os.path.basename(paths[0])).write_bytes(good)
    ds = build_dataset(cfg('DATASET.IMAGE_CACHE', tmp_path / 'cache'), False)
    plain = build_dataset(cfg(), False)
    for i in range(len(ds)):
        assert torch.equal(ds[i][0], plain[i][0])


def test_images_missing_from_the_cache_are_decoded_and_counted(coco_copy, tmp_path, caplog):
    folder, _, cfg = coco_copy
    paths = _images(folder)
    build_image_cache(paths[:1], tmp_path / 'cache', decode_image)
    with caplog.at_level(logging.WARNING, logger='mipnet.data.coco'):
        ds = build_dataset(cfg('DATASET.IMAGE_CACHE', tmp_path / 'cache'), False)
    assert f'{len(paths) - 1} of the {len(paths)} images of coco val are not in the image ' \
           f'cache {tmp_path / "cache"}' in caplog.text
    plain = build_dataset(cfg(), False)
    for i in range(len(ds)):
        assert torch.equal(ds[i][0], plain[i][0])


def test_changed_source_image_is_refused_removed_one_is_served(coco_copy, tmp_path):
    folder, _, cfg = coco_copy
    paths = _images(folder)
    build_image_cache(paths, tmp_path / 'cache', decode_image)
    ds = build_dataset(cfg('DATASET.IMAGE_CACHE', tmp_path / 'cache'), False)
    first = ds.db[0]['image']
    expected = ds[0][0]
    os.remove(first)
    assert torch.equal(ds[0][0], expected)              # the cache holds the pixels
    shutil.copy(paths[1] if paths[1] != first else paths[2], first)
    assert torch.equal(ds[0][0], expected)    # checked once per image and process (NFS cost)
    fresh = build_dataset(cfg('DATASET.IMAGE_CACHE', tmp_path / 'cache'), False)
    with pytest.raises(ImageCacheError, match=rf'image {first} changed after the image cache '
                                              r'.* was built .* rebuild the cache'):
        fresh[0]
    with pytest.raises(DataError):                       # ImageCacheError is a DataError
        fresh[0]


def test_source_that_cannot_be_examined_is_one_error(tmp_path, monkeypatch):
    path = _images(FIXTURES / 'coco')[0]
    build_image_cache([path], tmp_path / 'cache', decode_image)
    cache = ImageCache(tmp_path / 'cache')
    real_stat = os.stat

    def denied(p, *args, **kwargs):
        if str(p) == path:
            raise PermissionError(13, 'Permission denied', p)
        return real_stat(p, *args, **kwargs)
    monkeypatch.setattr(image_cache_module.os, 'stat', denied)
    with pytest.raises(ImageCacheError, match=rf'image {path} cannot be checked against the '
                                              r'image cache .* \(Permission denied\); make its '
                                              'folder readable'):
        cache.read(path)


def test_touched_source_is_stale_too(coco_copy, tmp_path):
    folder, _, _ = coco_copy
    path = _images(folder)[0]
    build_image_cache([path], tmp_path / 'cache', decode_image)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    with pytest.raises(ImageCacheError, match='changed after'):
        ImageCache(tmp_path / 'cache').read(path)


def _built(tmp_path):
    paths = _images(FIXTURES / 'coco')[:2]
    build_image_cache(paths, tmp_path / 'cache', decode_image)
    return tmp_path / 'cache'


@pytest.mark.parametrize('damage, message', [
    (lambda c: (c / INDEX_FILE).unlink(), 'no index.json; rebuild it with `python '
                                          'tools/cache_images.py'),
    (lambda c: (c / INDEX_FILE).write_text('{"format": '), 'index.json cannot be read'),
    (lambda c: (c / INDEX_FILE).write_text(json.dumps(
        {**json.loads((c / INDEX_FILE).read_text()), 'version': 99})),
     'is not a version 1 mipnet-image-cache index'),
    (lambda c: os.truncate(c / PIXELS_FILE, 1000), r'pixels.u8 has 1000 bytes but the index '
                                                   r'says \d+ \(cut short or replaced\)'),
    (lambda c: (c / PIXELS_FILE).unlink(), r'no pixels.u8; rebuild it with .* --overwrite'),
    (lambda c: (c / INDEX_FILE).write_text(json.dumps(
        {**json.loads((c / INDEX_FILE).read_text()), 'pixel_bytes': 'x'})),
     'is not a version 1 mipnet-image-cache index'),
    (lambda c: (c / INDEX_FILE).write_text(json.dumps(
        {**json.loads((c / INDEX_FILE).read_text()),
         'images': {'/x.jpg': [10 ** 9, 10, 10, 1, 1]}})),
     r'the index.json entry of /x.jpg is malformed \(\[1000000000, 10, 10, 1, 1\]\)'),
    (lambda c: (c / INDEX_FILE).write_text(json.dumps(
        {**json.loads((c / INDEX_FILE).read_text()), 'images': {'/x.jpg': [0, 10]}})),
     'the index.json entry of /x.jpg is malformed'),
    (lambda c: (shutil.rmtree(c), c.write_text('')), 'is a file, not a cache folder'),
])
def test_broken_cache_is_one_error_at_dataset_build(tmp_path, fixture_cfg, damage, message):
    cache = _built(tmp_path)
    damage(cache)
    with pytest.raises(ImageCacheError, match=message):
        build_dataset(fixture_cfg('coco', 'DATASET.IMAGE_CACHE', cache), False)


def test_build_refuses_an_existing_cache_and_replaces_it_when_asked(tmp_path):
    cache = _built(tmp_path)
    paths = _images(FIXTURES / 'coco')
    with pytest.raises(ImageCacheError, match='already holds an image cache; pass '
                                              '--overwrite'):
        build_image_cache(paths, cache, decode_image)
    done = build_image_cache(paths, cache, decode_image, overwrite=True)
    assert done['images'] == len(paths) and len(ImageCache(cache)) == len(paths)
    assert sorted(os.listdir(cache)) == ['.build.lock', INDEX_FILE, PIXELS_FILE]


def test_build_checks_disk_space_first_also_for_relative_paths(tmp_path, monkeypatch):
    shutil.copytree(FIXTURES / 'coco', tmp_path / 'coco')
    monkeypatch.chdir(tmp_path)
    paths = [os.path.relpath(p) for p in _images(tmp_path / 'coco')]
    decoded = []

    def counting_decode(path):
        decoded.append(path)
        return decode_image(path)
    huge = {p: (10 ** 6, 10 ** 6) for p in paths}
    with pytest.raises(ImageCacheError, match=r'needs about \d+\.\d+ GiB but .* GiB free'):
        build_image_cache(paths, 'cache', counting_decode, sizes=huge)
    assert decoded == []
    done = build_image_cache(paths, 'cache', decode_image, sizes={p: (1, 1) for p in paths})
    assert done['images'] == len(paths) and all(p in ImageCache('cache') for p in paths)


def test_failed_or_interrupted_build_leaves_no_partial_files(tmp_path, monkeypatch):
    paths = _images(FIXTURES / 'coco')
    real_fdopen = open

    def full_disk(fd, mode='r', *args, **kwargs):
        if isinstance(fd, int) and 'b' in mode:        # the pixel file of mkstemp
            os.close(fd)
            return real_fdopen('/dev/full', mode, *args, **kwargs)
        return real_fdopen(fd, mode, *args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(image_cache_module, 'open', full_disk, raising=False)
        with pytest.raises(ImageCacheError, match='writing the image cache .* failed after .* '
                                                  'the partial files were removed'):
            build_image_cache(paths, tmp_path / 'cache', decode_image)
    assert os.listdir(tmp_path / 'cache') == ['.build.lock']

    def interrupted(path):
        if path == paths[2]:
            raise KeyboardInterrupt
        return decode_image(path)
    with pytest.raises(KeyboardInterrupt):
        build_image_cache(paths, tmp_path / 'cache', interrupted)
    assert os.listdir(tmp_path / 'cache') == ['.build.lock']

    # A build killed by a signal runs no cleanup: the next build removes its partial files.
    for name in (PIXELS_FILE + '.x1y2.part', INDEX_FILE + '.x1y2.part'):
        (tmp_path / 'cache' / name).write_bytes(b'0' * 100)
    (tmp_path / 'cache' / 'notes.part').write_text('not ours')
    build_image_cache(paths, tmp_path / 'cache', decode_image)
    assert sorted(os.listdir(tmp_path / 'cache')) == ['.build.lock', INDEX_FILE, 'notes.part',
                                                       PIXELS_FILE]


def test_folder_sync_refused_by_the_file_system_still_completes(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def no_dir_sync(fd):
        if os.path.isdir(f'/proc/self/fd/{fd}'):
            raise OSError(errno.EINVAL, 'Invalid argument')
        return real_fsync(fd)
    monkeypatch.setattr(image_cache_module.os, 'fsync', no_dir_sync)
    paths = _images(FIXTURES / 'coco')
    assert build_image_cache(paths, tmp_path / 'cache', decode_image)['images'] == len(paths)
    assert len(ImageCache(tmp_path / 'cache')) == len(paths)


def test_two_builds_into_one_folder_cannot_mix(tmp_path):
    paths = _images(FIXTURES / 'coco')
    inner = []

    def decode_with_a_second_build(path):
        if not inner:
            with pytest.raises(ImageCacheError, match='another build is writing the image '
                                                      'cache'):
                build_image_cache(paths, tmp_path / 'cache', decode_image, overwrite=True)
            inner.append(True)
        return decode_image(path)
    build_image_cache(paths, tmp_path / 'cache', decode_with_a_second_build)
    assert inner and len(ImageCache(tmp_path / 'cache')) == len(paths)
    # The lock file stays (deleting it would let two later builds lock different files).
    assert (tmp_path / 'cache' / '.build.lock').is_file()
    assert oct(os.stat(tmp_path / 'cache' / PIXELS_FILE).st_mode & 0o777) == '0o644'


def test_another_decoder_version_is_named(tmp_path, caplog):
    cache = _built(tmp_path)
    index = json.loads((cache / INDEX_FILE).read_text())
    (cache / INDEX_FILE).write_text(json.dumps({**index, 'decoder': 'opencv 3.0.0'}))
    with caplog.at_level(logging.WARNING, logger='mipnet.data.image_cache'):
        ImageCache(cache)
    assert f'was decoded by opencv 3.0.0, this process decodes with {DECODER}' in caplog.text


def test_cache_folder_is_not_a_run_setting(fixture_cfg):
    cfg = fixture_cfg('coco')
    other = fixture_cfg('coco', 'DATASET.IMAGE_CACHE', '/somewhere')
    assert run_differences(cfg.dump(), other) == []


def test_cache_images_tool(tmp_path, fixture_cfg, capsys):
    cfg_file = tmp_path / 'cfg.yaml'
    cfg_file.write_text(fixture_cfg('crowdpose').dump())
    out = tmp_path / 'cache'
    assert cache_images_main(['--cfg', str(cfg_file), '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    images = {os.path.abspath(p) for p in _images(FIXTURES / 'crowdpose')}
    assert f'{len(images)} images cached, 0 unreadable' in printed
    assert f'use it with: DATASET.IMAGE_CACHE {out}' in printed
    assert set(ImageCache(out).images) == images
    assert cache_images_main(['--cfg', str(cfg_file), '--out', str(out)]) == 1
    assert 'already holds an image cache' in capsys.readouterr().err
    assert cache_images_main(['--cfg', str(cfg_file), '--out', str(out), '--splits', 'test',
                              '--overwrite']) == 0
    # A config that names the cache (even a broken one) rebuilds it.
    os.truncate(out / PIXELS_FILE, 10)
    assert cache_images_main(['--cfg', str(cfg_file), '--out', str(out), '--overwrite',
                              'DATASET.IMAGE_CACHE', str(out)]) == 0
    assert cache_images_main(['--cfg', str(cfg_file), '--out', str(tmp_path / 'c2'),
                              'DATASET.NO_SUCH_KEY', '1']) == 1
    assert 'DATASET.NO_SUCH_KEY' in capsys.readouterr().err
    cfg = load_config(str(cfg_file), ['DATASET.IMAGE_CACHE', str(out)])
    assert build_dataset(cfg, True).image_cache.folder == str(out)
