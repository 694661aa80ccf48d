"""Shared fixtures for the data tests: fixture paths, config builders, a tiny COCO writer.

Helpers are handed out as factory fixtures (not imported) so that this conftest works with
any pytest import mode and next to other test folders' conftest files.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures'
TINY_CFG = REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml'

# name -> (folder, annotation file, detection file or None, num joints)
FIXTURE_SETS = {
    'coco': ('coco', 'test_coco.json', 'test_coco_det_AP_H_56.json', 17),
    'crowdpose': ('crowdpose', 'test_crowdpose.json', 'test_crowdpose_det_AP_40.json', 14),
    'ochuman': ('ochuman', 'test_ochuman.json', None, 17),
}


@pytest.fixture(scope='session')
def fixtures_dir():
    """The real pose fixtures in tests/fixtures (see its README.md)."""
    return FIXTURES


def _fixture_cfg(name, *opts, det=False):
    """Tiny MIPNet config pointing train and test at the fixture set ``name``.

    ``det=True`` evaluates on the set's detection file (TEST.USE_GT_BBOX false).
    """
    from mipnet.config import load_config
    folder, ann, det_file, num_joints = FIXTURE_SETS[name]
    d = FIXTURES / folder
    base = ['DATASET.TRAIN_DATASET', name, 'DATASET.TEST_DATASET', name,
            'MODEL.NUM_JOINTS', str(num_joints),
            'DATASET.TRAIN_IMAGE_DIR', str(d), 'DATASET.TEST_IMAGE_DIR', str(d),
            'DATASET.TRAIN_ANNOTATION_FILE', str(d / ann),
            'DATASET.TEST_ANNOTATION_FILE', str(d / ann)]
    if det:
        base += ['TEST.USE_GT_BBOX', 'False', 'TEST.COCO_BBOX_FILE', str(d / det_file)]
    return load_config(str(TINY_CFG), base + [str(o) for o in opts])


def _raw_annotations(name):
    """(images by id, annotations list) of a fixture set, straight from its JSON."""
    folder, ann, _, _ = FIXTURE_SETS[name]
    data = json.loads((FIXTURES / folder / ann).read_text())
    return {im['id']: im for im in data['images']}, data['annotations']


def _write_tiny_coco(folder, images, annotations, image_subdir='images/train',
                    ann_name='annotations/person_keypoints_train.json', write_images=True):
    """Write a tiny COCO-layout dataset under ``folder``.

    Args:
        images: list of (file_name, width, height); image ids are 1, 2, ...
        annotations: list of dicts merged over a default person annotation with 17 visible
            keypoints spread over its box.
    Returns:
        (image_dir, annotation_file) as str.
    """
    folder = Path(folder)
    image_dir = folder / image_subdir
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ims = []
    for i, (fname, w, h) in enumerate(images, start=1):
        ims.append({'id': i, 'file_name': fname, 'width': w, 'height': h})
        if write_images:
            cv2.imwrite(str(image_dir / fname), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    anns = []
    for k, a in enumerate(annotations, start=1):
        x, y, w, h = a.get('bbox', [10, 10, 40, 80])
        kps = []
        for j in range(17):
            kps += [x + w * (j % 4 + 1) / 5, y + h * (j + 1) / 18, 2]
        ann = {'id': k, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'bbox': [x, y, w, h],
               'area': w * h, 'num_keypoints': 17, 'keypoints': kps}
        ann.update(a)
        anns.append(ann)
    ann_file = folder / ann_name
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps({'images': ims, 'annotations': anns,
                                    'categories': [{'id': 1, 'name': 'person'}]}))
    return str(image_dir), str(ann_file)


def _tiny_cfg(image_dir, ann_file, *opts, name='coco'):
    """Tiny config whose train and test splits read ``image_dir`` / ``ann_file``."""
    from mipnet.config import load_config
    return load_config(str(TINY_CFG), [
        'DATASET.TRAIN_DATASET', name, 'DATASET.TEST_DATASET', name,
        'DATASET.TRAIN_IMAGE_DIR', str(image_dir), 'DATASET.TEST_IMAGE_DIR', str(image_dir),
        'DATASET.TRAIN_ANNOTATION_FILE', str(ann_file),
        'DATASET.TEST_ANNOTATION_FILE', str(ann_file)] + [str(o) for o in opts])


@pytest.fixture
def fixture_cfg(fixtures_dir):
    """Factory ``fixture_cfg(name, *opts, det=False)`` -> config on a fixture set."""
    return _fixture_cfg


@pytest.fixture
def raw_annotations(fixtures_dir):
    """Factory ``raw_annotations(name)`` -> (images by id, annotations) from the JSON."""
    return _raw_annotations


@pytest.fixture
def write_tiny_coco():
    """Factory ``write_tiny_coco(folder, images, annotations, ...)`` -> (image_dir, ann_file)."""
    return _write_tiny_coco


@pytest.fixture
def tiny_cfg():
    """Factory ``tiny_cfg(image_dir, ann_file, *opts, name='coco')`` -> config."""
    return _tiny_cfg
