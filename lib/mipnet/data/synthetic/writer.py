"""Writing a synthetic dataset: JPEG images and COCO keypoint annotation files per split,
rendered in parallel worker processes if asked (the output does not depend on their
number)."""
import json
import multiprocessing as mp
import os
import time

import cv2
import numpy as np

from ...utils.files import write_json_atomic
from ..metadata import COCO
from .config import DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, SyntheticConfig
from .scene import render_image
from .statistics import overlap_pair_fraction

def _file_name(index):
    return f'{index + 1:012d}.jpg'


def _render_job(args):
    img_dir, seed, split, index, image_size, config = args
    image, people = render_image(seed, split, index, image_size, config)
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, int(config.jpeg_quality)])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    with open(os.path.join(img_dir, _file_name(index)), 'wb') as f:
        f.write(buf.tobytes())
    return index, people


def _worker_init():
    cv2.setNumThreads(1)


def _check_args(num, seed, image_size, workers):
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f'number of images must be an integer >= 0, got {num!r}')
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be an integer >= 0, got {seed!r}')
    if (len(image_size) != 2 or not all(MIN_IMAGE_SIDE <= int(s) <= MAX_IMAGE_SIDE
                                        for s in image_size)):
        raise ValueError(f'image size must be two integers (width height) in '
                         f'[{MIN_IMAGE_SIDE}, {MAX_IMAGE_SIDE}], got {tuple(image_size)!r}')
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f'workers must be an integer >= 1, got {workers!r}')


def _prepare_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, '.write_test')
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as e:
        raise ValueError(f'cannot write to {os.fspath(path)!r}: {e.strerror or e}') from None


def _categories():
    return [dict(id=1, name='person', supercategory='person',
                 keypoints=list(COCO.keypoint_names),
                 skeleton=[[a + 1, b + 1] for a, b in COCO.skeleton])]


def generate_split(out_dir, split, num_images, seed=0, image_size=DEFAULT_IMAGE_SIZE,
                   workers=1, config=None, pool=None):
    """Render ``num_images`` images of ``split`` under ``out_dir`` and write its annotation
    file; returns the path of ``annotations/person_keypoints_{split}.json``."""
    config = config or SyntheticConfig()
    image_size = (int(image_size[0]), int(image_size[1]))
    _check_args(num_images, seed, image_size, workers)
    img_dir = os.path.join(out_dir, 'images', split)
    ann_dir = os.path.join(out_dir, 'annotations')
    _prepare_dir(img_dir)
    _prepare_dir(ann_dir)
    jobs = [(img_dir, int(seed), split, i, image_size, config) for i in range(num_images)]
    own_pool = None
    if pool is None and workers > 1 and num_images > 1:
        pool = own_pool = _make_pool(workers)
    try:
        results = (pool.imap(_render_job, jobs, chunksize=8) if pool is not None
                   else map(_render_job, jobs))
        images, annotations = _collect(results, image_size)
    finally:
        if own_pool is not None:
            own_pool.close()
            own_pool.join()
    data = dict(info=dict(description='MIPNet synthetic crowded people (COCO keypoints)',
                          version='1.0', seed=int(seed), split=split,
                          image_size=list(image_size)),
                licenses=[], images=images, annotations=annotations, categories=_categories())
    path = os.path.join(ann_dir, f'person_keypoints_{split}.json')
    write_json_atomic(path, data, separators=(',', ':'))
    return path


def _make_pool(workers):
    # 'spawn': safe even when the caller has already used torch / OpenMP / cv2 threads.
    return mp.get_context('spawn').Pool(workers, initializer=_worker_init)


def _collect(results, image_size):
    images, annotations = [], []
    for index, people in results:
        image_id = index + 1
        images.append(dict(id=image_id, file_name=_file_name(index), width=image_size[0],
                           height=image_size[1]))
        for p in people:
            keypoints = p['keypoints']
            flat = []
            for x, y, v in keypoints:
                flat += [round(float(x), 2), round(float(y), 2), int(v)]
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=1,
                                    iscrowd=0, bbox=p['bbox'], area=p['area'],
                                    num_keypoints=p['num_keypoints'], keypoints=flat))
    return images, annotations


def generate_dataset(out_dir, num_train, num_val, seed=0, image_size=DEFAULT_IMAGE_SIZE,
                     workers=1, config=None):
    """Write the train and val splits under ``out_dir``; returns a dict of statistics
    (paths, image/person counts, seconds, images/s, fraction of multi-person images with
    a pair of boxes of IoU >= 0.4, fraction of labelled joints that are occluded).

    Raises ValueError for bad arguments or an unwritable ``out_dir``.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    for n in (num_train, num_val):
        _check_args(n, seed, image_size, workers)
    _prepare_dir(out_dir)
    t0 = time.perf_counter()
    pool = None
    if workers > 1 and num_train + num_val > 1:
        pool = _make_pool(workers)
    try:
        paths = {split: generate_split(out_dir, split, n, seed, image_size, workers, config,
                                       pool)
                 for split, n in (('train', num_train), ('val', num_val))}
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    seconds = time.perf_counter() - t0
    stats = dict(paths=paths, seconds=seconds, num_images=num_train + num_val,
                 images_per_second=(num_train + num_val) / max(seconds, 1e-9))
    for split, path in paths.items():
        with open(path) as f:
            data = json.load(f)
        v = np.array([a['keypoints'][2::3] for a in data['annotations']]).reshape(-1)
        stats[split] = dict(images=len(data['images']), people=len(data['annotations']),
                            overlap_pair_fraction=overlap_pair_fraction(data),
                            occluded_fraction=float((v == 1).sum() / max((v > 0).sum(), 1)))
    return stats
