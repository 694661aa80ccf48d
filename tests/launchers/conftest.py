"""Fixtures of the launcher tests: a tiny dataset root and a runner for test/*.sh."""
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.conftest import FIXTURES, REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
DETECTIONS = 'launcher_test_detections.json'


def _synthetic_root(base):
    """Synthetic crowded scenes from tools/make_synthetic.py: images/{train,val}/ and
    annotations/person_keypoints_{train,val}.json (set names 'train' / 'val')."""
    script = REPO / 'tools' / 'make_synthetic.py'
    if not script.is_file():
        return None
    root = base / 'synthetic'
    proc = subprocess.run([sys.executable, str(script), '--out', str(root), '--num-train', '12',
                           '--num-val', '4', '--seed', '0', '--image-size', '128', '128'],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return None
    return root


def _fixture_root(base):
    """The real COCO fixture arranged as <set>/ + annotations/ through symlinks."""
    src = FIXTURES / 'coco'
    root = base / 'fixture'
    (root / 'annotations').mkdir(parents=True)
    for image_set in ('train', 'val'):
        (root / image_set).symlink_to(src, target_is_directory=True)
        (root / 'annotations' / f'person_keypoints_{image_set}.json').symlink_to(
            src / 'test_coco.json')
    return root


@pytest.fixture(scope='session')
def data_root(tmp_path_factory):
    """A dataset root laid out for the tiny config's sets: images/<set>/ or <set>/ and
    annotations/person_keypoints_{train,val}.json."""
    base = tmp_path_factory.mktemp('launcher_data')
    return _synthetic_root(base) or _fixture_root(base)


@pytest.fixture(scope='session')
def coco_layout_root(data_root, tmp_path_factory):
    """The same data in the COCO layout the launchers document: train2017/, val2017/,
    annotations/person_keypoints_{train,val}2017.json (symlinks)."""
    root = tmp_path_factory.mktemp('coco_layout')
    (root / 'annotations').mkdir()
    for image_set in ('train', 'val'):
        images = data_root / 'images' / image_set
        if not images.is_dir():
            images = data_root / image_set
        (root / f'{image_set}2017').symlink_to(images.resolve(), target_is_directory=True)
        (root / 'annotations' / f'person_keypoints_{image_set}2017.json').symlink_to(
            (data_root / 'annotations' / f'person_keypoints_{image_set}.json').resolve())
    # Person "detections" (the val ground-truth boxes) where the reference configs keep them.
    val = json.loads((root / 'annotations' / 'person_keypoints_val2017.json').read_text())
    dets = [{'image_id': a['image_id'], 'category_id': 1, 'bbox': a['bbox'], 'score': 1.0}
            for a in val['annotations'] if a.get('num_keypoints', 1) > 0]
    (root / 'person_detection_results').mkdir()
    (root / 'person_detection_results' / DETECTIONS).write_text(json.dumps(dets))
    return root


class Launcher:
    """Runs ``bash test/<script>.sh`` on CPU with a unique OUTPUT_DIR and log folder."""

    def __init__(self, tmp_path):
        self.tag = f'launcher-{uuid.uuid4().hex[:12]}'
        self.out = tmp_path / self.tag            # the unique string in every command line
        self.logs = tmp_path / 'test_output'

    def tiny_opts(self, *extra, batch=True, epochs=True):
        """Overrides of a quick run; ``batch`` / ``epochs`` False leave the per-device batch
        and the epoch count to the config and the launcher."""
        return ['PRINT_FREQ', '1', *(['TRAIN.END_EPOCH', '1'] if epochs else []),
                *(['TRAIN.BATCH_SIZE_PER_GPU', '4'] if batch else []),
                'TEST.BATCH_SIZE_PER_GPU', '8', 'TEST.FLIP_TEST', 'False', 'WORKERS', '0',
                'OUTPUT_DIR', str(self.out / 'output'), 'LOG_DIR', str(self.out / 'log'),
                *extra]

    def env(self, **extra):
        env = dict(os.environ)
        env.update(PYTHON=sys.executable, TEST_OUTPUT_DIR=str(self.logs), ASCEND_DEVICE_ID='0',
                   OMP_NUM_THREADS='1')
        for key in ('NPROC_PER_NODE', 'NNODES', 'NODE_RANK', 'MASTER_ADDR', 'MASTER_PORT',
                    'PERF_STEPS', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK'):
            env.pop(key, None)
        env.update(extra)
        return env

    def run(self, script, *args, env=None, timeout=240, prefix=()):
        proc = subprocess.run([*prefix, 'bash', str(REPO / 'test' / f'{script}.sh'),
                               *map(str, args)],
                              capture_output=True, text=True, timeout=timeout,
                              env=env or self.env(), cwd=str(self.out.parent))
        proc.output = proc.stdout + proc.stderr
        return proc

    def case_log(self, name):
        path = self.logs / '0' / f'{name}.log'
        assert path.is_file(), f'{path} missing; have {sorted(os.listdir(path.parent))}'
        return dict(line.split(' = ', 1) for line in path.read_text().splitlines())

    def leftover_processes(self):
        if shutil.which('pgrep') is None:
            return ''
        proc = subprocess.run(['pgrep', '-af', self.tag], capture_output=True, text=True)
        return proc.stdout.strip()


@pytest.fixture
def launcher(tmp_path):
    return Launcher(tmp_path)


def final_value(output, label):
    """The number after ``<label> :`` in a launcher's output (None if absent)."""
    for line in output.splitlines():
        if line.startswith(label):
            value = line.split(':', 1)[1].strip()
            try:
                return float(value)
            except ValueError:
                return value
    return None
