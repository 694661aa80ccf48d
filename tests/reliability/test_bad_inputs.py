"""Bad-input corpus, end to end: every bad file or setting gives one ``error:`` line naming the
file or key and exit status 1 (never a traceback, never a hang), is skipped and counted, or
-- where the input is actually fine -- works.

A representative subset runs ``tools/train.py`` / ``tools/test.py`` as subprocesses; the rest
calls the same CLI entry points in this process (no torch import per case) or the library.
Library-level unit tests of the same checks live in tests/data/test_data_errors.py (synthetic
images), tests/config/test_config.py and tests/utils/test_checkpoint.py; these tests cover the
real COCO fixture and the command-line path.
"""
import json
import logging
from pathlib import Path

import cv2
import pytest
import torch
import yaml

from mipnet.config import load_config
from mipnet.data import DataError, build_dataset
from mipnet.models import build_model

from ._helpers import (FIXTURES, TINY, assert_one_error, coco_opts, run,
                       run_in_process)

BROKEN = '000000040083.jpg'          # 3 people in the fixture


@pytest.fixture
def data(tmp_path):
    """A writable copy of the COCO fixture: symlinked images, copied annotations."""
    coco = FIXTURES / 'coco'
    image_dir = tmp_path / 'images'
    image_dir.mkdir()
    for src in coco.glob('*.jpg'):
        (image_dir / src.name).symlink_to(src)
    ann_file = tmp_path / 'ann.json'
    ann_file.write_text((coco / 'test_coco.json').read_text())
    return image_dir, ann_file


def _edit(ann_file, fn):
    data = json.loads(ann_file.read_text())
    fn(data)
    ann_file.write_text(json.dumps(data))


def _replace(image_dir, name, content):
    path = image_dir / name
    path.unlink()
    path.write_bytes(content)
    return path


def _train(tmp_path, image_dir, ann_file, *extra, flags=()):
    return run_in_process('train', [*flags, '--cfg', TINY,
                                    *coco_opts(tmp_path / 'out', image_dir, ann_file),
                                    'TRAIN.END_EPOCH', 1, *extra])


def _train_subprocess(tmp_path, image_dir, ann_file, *extra):
    return run(['tools/train.py', '--cfg', TINY,
                *coco_opts(tmp_path / 'out', image_dir, ann_file), 'TRAIN.END_EPOCH', 1, *extra])


def _dataset(image_dir, ann_file, is_train=False, *opts):
    return build_dataset(load_config(TINY, coco_opts('/tmp/unused', image_dir, ann_file) +
                                     list(opts)), is_train)


# ------------------------------------------------------------------------- images
def test_missing_image_in_dataloader_worker(tmp_path, data):
    """Subprocess, WORKERS 1: the DataError raised in a worker must still be one line."""
    image_dir, ann_file = data
    (image_dir / BROKEN).unlink()
    result = _train_subprocess(tmp_path, image_dir, ann_file, 'WORKERS', 1)
    assert_one_error(result, f'image {image_dir / BROKEN} does not exist',
                     'DATASET.SKIP_BROKEN_IMAGES')


def test_zero_byte_image_fails_or_is_skipped_and_counted(tmp_path, data):
    image_dir, ann_file = data
    path = _replace(image_dir, BROKEN, b'')
    assert_one_error(_train(tmp_path, image_dir, ann_file),
                     f'image {path} is empty (0 bytes)')
    result = _train(tmp_path, image_dir, ann_file, 'DATASET.SKIP_BROKEN_IMAGES', 'True')
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'skipping broken image (1 so far): image {path} is empty' in result.stdout
    assert 'so far' in result.stdout and '(2 so far)' not in result.stdout


def test_truncated_jpeg_is_reported(data):
    image_dir, ann_file = data
    original = (FIXTURES / 'coco' / BROKEN).read_bytes()
    path = _replace(image_dir, BROKEN, original[:len(original) // 2])
    ds = _dataset(image_dir, ann_file)
    index = next(i for i, rec in enumerate(ds.db) if rec['image'] == str(path))
    with pytest.raises(DataError, match=f'image {path} .*truncated'):
        ds[index]


def test_png_bytes_named_jpg_load(data):
    """Not an error: OpenCV decodes by content, so a PNG saved as .jpg is used as is."""
    image_dir, ann_file = data
    original = cv2.imread(str(FIXTURES / 'coco' / BROKEN))
    ok, png = cv2.imencode('.png', original)
    assert ok
    path = _replace(image_dir, BROKEN, png.tobytes())
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    ds = _dataset(image_dir, ann_file)
    index = next(i for i, rec in enumerate(ds.db) if rec['image'] == str(path))
    image, target, _, meta = ds[index]
    assert meta['image'] == str(path) and torch.isfinite(image).all()
    # Lossless PNG of the decoded JPEG: the same pixels, hence the same crop.
    _replace(image_dir, BROKEN, (FIXTURES / 'coco' / BROKEN).read_bytes())
    torch.testing.assert_close(image, ds[index][0])


# -------------------------------------------------------------------- annotations
def test_truncated_annotation_json(tmp_path, data):
    image_dir, ann_file = data
    text = ann_file.read_text()
    ann_file.write_text(text[:len(text) // 2])
    assert_one_error(_train(tmp_path, image_dir, ann_file),
                     f'annotation file {ann_file} could not be parsed as JSON', 'truncated')


def test_keypoints_of_wrong_length(tmp_path, data):
    image_dir, ann_file = data
    _edit(ann_file, lambda d: d['annotations'][4].update(keypoints=[1, 2, 2] * 14))
    ann_id = json.loads(ann_file.read_text())['annotations'][4]['id']
    assert_one_error(_train(tmp_path, image_dir, ann_file),
                     f'annotation file {ann_file}: annotation id {ann_id} has 42 keypoint '
                     'values; coco needs 3 x 17 = 51')


def test_annotation_of_image_id_not_in_images(tmp_path, data):
    image_dir, ann_file = data
    _edit(ann_file, lambda d: d['annotations'][2].update(image_id=123456))
    assert_one_error(_train(tmp_path, image_dir, ann_file),
                     f'annotation file {ann_file}: annotations[2]',
                     'refers to image_id 123456 that is not in "images"')


def _duplicate_image(d):
    """A second image record with the id of the first and another file (issue 27, item 3:
    AP 0.398 instead of 0.446 with exit status 0)."""
    d['images'].append(dict(d['images'][0], file_name=d['images'][1]['file_name']))


def _duplicate_annotation(d):
    d['annotations'].append(dict(d['annotations'][3]))      # AP 0.422 instead of 0.446


@pytest.mark.parametrize('edit, message', [
    (_duplicate_image, 'images[4] repeats image id {image} of images[0]'),
    (_duplicate_annotation, 'annotations[14] repeats annotation id {ann} of annotations[3]'),
])
def test_duplicate_ids_are_refused_before_training_or_inference(tmp_path, data, model_file,
                                                                edit, message):
    image_dir, ann_file = data
    original = json.loads(ann_file.read_text())
    _edit(ann_file, edit)
    message = f'annotation file {ann_file}: ' + message.format(
        image=original['images'][0]['id'], ann=original['annotations'][3]['id'])
    assert_one_error(_train(tmp_path, image_dir, ann_file), message, 'must be unique')
    result = _test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', model_file)
    assert_one_error(result, message)
    assert 'merged' not in result.stdout


def test_annotation_file_without_categories_is_refused_before_inference(tmp_path, data,
                                                                        model_file):
    """It was a pycocotools KeyError traceback after the whole inference; training does not
    read the categories and still runs."""
    image_dir, ann_file = data
    _edit(ann_file, lambda d: d.pop('categories'))
    result = _test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', model_file)
    assert_one_error(result, f'annotation file {ann_file} has no "categories" list with the '
                             'person category (id 1)')
    assert 'merged' not in result.stdout
    assert len(_dataset(image_dir, ann_file, True)) == \
        len(_dataset(image_dir, FIXTURES / 'coco' / 'test_coco.json', True)) > 0


def test_degenerate_boxes_and_invisible_people_are_skipped_and_counted(tmp_path, data, caplog):
    """Zero-area box, box outside the image, all joints invisible: dropped and counted;
    negative coordinates: clipped to the image, joints outside the crop get weight 0."""
    image_dir, ann_file = data

    def spoil(d):
        anns = d['annotations']
        anns[0]['bbox'] = [10.0, 10.0, 0.0, 50.0]
        anns[0]['area'] = 0.0                           # zero area
        anns[1]['bbox'] = [5000.0, 10.0, 20.0, 20.0]    # right of the image
        anns[4]['keypoints'] = [0] * 51                 # all joints invisible
        anns[4]['num_keypoints'] = 0
        anns[5]['bbox'] = [-40.0, -30.0, 200.0, 200.0]  # negative coordinates
        anns[5]['keypoints'][:3] = [-100, -100, 2]      # a visible joint off the image
    _edit(ann_file, spoil)
    with caplog.at_level(logging.INFO, logger='mipnet.data'):
        ds = _dataset(image_dir, ann_file)
    # 12 of the fixture's 14 people have keypoints; 3 more are dropped here.
    assert (f'{ann_file}: 9 person boxes kept; skipped 3 no keypoints, 2 degenerate box'
            in caplog.text)
    rec = next(i for i, r in enumerate(ds.db) if r['ann_id'] == json.loads(
        ann_file.read_text())['annotations'][5]['id'])
    image, target, weight, meta = ds[rec]
    assert (meta['center'] >= 0).all() and torch.isfinite(target).all()
    assert weight[0, 0, 0] == 0        # the off-image joint is not trained on
    result = _train(tmp_path, image_dir, ann_file)
    assert result.returncode == 0, result.stderr[-3000:]


def test_annotation_without_area(tmp_path, data):
    image_dir, ann_file = data
    _edit(ann_file, lambda d: d['annotations'][1].pop('area'))
    result = _train(tmp_path, image_dir, ann_file)
    assert 'Traceback' not in result.stderr, result.stderr[-1500:]
    # Evaluation supplies the missing area from the box (w * h * 0.53) and says so.
    assert result.returncode == 0, result.stderr[-1500:]
    assert '1 ground-truth annotations have no "area"' in result.stdout + result.stderr


# ---------------------------------------------------------------------- detections
def _det_file(tmp_path, edit):
    dets = json.loads((FIXTURES / 'coco' / 'test_coco_det_AP_H_56.json').read_text())
    edit(dets)
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    return path


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / 'tiny.pth'
    torch.save(build_model(load_config(TINY)).state_dict(), path)
    return path


def _test(tmp_path, image_dir, ann_file, *extra):
    return run_in_process('test', ['--cfg', TINY, *coco_opts(tmp_path / 'out', image_dir,
                                                             ann_file), *extra])


def test_detection_file_score_out_of_range(tmp_path, data, model_file):
    image_dir, ann_file = data
    det = _det_file(tmp_path, lambda d: d[7].update(score=1.7))
    assert_one_error(_test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', model_file,
                           'TEST.USE_GT_BBOX', 'False', 'TEST.COCO_BBOX_FILE', det),
                     f'detection file {det}: record 7 has score 1.7 outside [0, 1]')


def test_detection_file_of_wrong_category(tmp_path, data, model_file, caplog):
    image_dir, ann_file = data
    det = _det_file(tmp_path, lambda d: [x.update(category_id=3) for x in d])
    assert_one_error(_test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', model_file,
                           'TEST.USE_GT_BBOX', 'False', 'TEST.COCO_BBOX_FILE', det),
                     f'detections from {det}', 'has no usable person box')
    det = _det_file(tmp_path, lambda d: [x.update(category_id=3) for x in d[:100]])
    with caplog.at_level(logging.INFO, logger='mipnet.data'):
        ds = _dataset(image_dir, ann_file, False, 'TEST.USE_GT_BBOX', 'False',
                      'TEST.COCO_BBOX_FILE', str(det))
    assert len(ds) == 18 and f'{det}: 18 of 118 detections kept; skipped 100 other category' \
        in caplog.text


# ------------------------------------------------------------------------- config
def test_unknown_config_key(tmp_path, data):
    image_dir, ann_file = data
    result = _train(tmp_path, image_dir, ann_file, 'TRAIN.LEARNING_RATE', '0.1')
    assert_one_error(result, 'command-line override: Non-existent key: TRAIN.LEARNING_RATE')
    assert not (tmp_path / 'out').exists()


def test_config_wrong_type_and_missing_file(tmp_path, data):
    image_dir, ann_file = data
    assert_one_error(_train(tmp_path, image_dir, ann_file, 'TRAIN.LR', 'fast'),
                     'TRAIN.LR', 'fast')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('TRAIN:\n  END_EPOCH: [1, 2]\n')
    assert_one_error(run_in_process('train', ['--cfg', bad]), f'config file {bad}',
                     'END_EPOCH')
    missing = tmp_path / 'nope.yaml'
    assert_one_error(run_in_process('train', ['--cfg', missing]),
                     f'config file not found: {missing}')


def _tiny_yaml_with(tmp_path, section, key, value):
    """The tiny config as a file of its own, with ``section.key`` set to the YAML ``value``."""
    data = yaml.safe_load(Path(TINY).read_text())
    data.setdefault(section, {})[key] = yaml.safe_load(value)
    path = tmp_path / 'edited.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize('section, key, allowed', [('TEST', 'OKS_THRE', 'in [0, 1]'),
                                                   ('TEST', 'IN_VIS_THRE', 'in [0, 1]')])
def test_nan_evaluation_setting_is_refused_before_inference(tmp_path, data, model_file,
                                                            section, key, allowed):
    """Issue 27, item 2: a NaN threshold gave a wrong AP with exit status 0."""
    image_dir, ann_file = data
    cfg = _tiny_yaml_with(tmp_path, section, key, '.nan')
    result = run_in_process('test', ['--cfg', cfg, *coco_opts(tmp_path / 'out', image_dir,
                                                               ann_file),
                                     'TEST.MODEL_FILE', model_file])
    assert_one_error(result, f'{section}.{key} = nan must be a finite number {allowed}')
    assert 'merged' not in result.stdout


@pytest.mark.parametrize('section, key, value, allowed', [
    ('DATASET', 'SCALE_FACTOR', '.nan', 'in [0, 1)'),     # was an IndexError
    ('TRAIN', 'LR_FACTOR', '.nan', '> 0'),                # trained an epoch, then "lower LR"
    ('MODEL', 'SIGMA', '0', '> 0'),                        # the same misleading hint
])
def test_bad_training_number_is_refused_before_training(tmp_path, data, section, key, value,
                                                         allowed):
    image_dir, ann_file = data
    cfg = _tiny_yaml_with(tmp_path, section, key, value)
    result = run_in_process('train', ['--cfg', cfg, *coco_opts(tmp_path / 'out', image_dir,
                                                                ann_file),
                                      'TRAIN.END_EPOCH', 1])
    assert_one_error(result, f'{section}.{key} = {yaml.safe_load(value)} must be a finite '
                             f'number {allowed}')
    assert 'Epoch: [0]' not in result.stdout


def test_data_path_pointing_to_nothing(tmp_path):
    nowhere = tmp_path / 'no_such_dataset'
    result = run_in_process('train', ['--cfg', TINY, '--data_path', nowhere, 'OUTPUT_DIR',
                                      tmp_path / 'out', 'LOG_DIR', tmp_path / 'log',
                                      'DEVICE', 'cpu'])
    assert_one_error(result, 'no image folder for set', str(nowhere / 'images' / 'train'))


# --------------------------------------------------------------------- checkpoints
def _other_checkpoint(tmp_path, *opts):
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': build_model(load_config(TINY, list(opts))).state_dict()}, path)
    return path


def test_checkpoint_of_another_architecture(tmp_path, data):
    image_dir, ann_file = data
    path = _other_checkpoint(tmp_path, 'MODEL.NAME', 'pose_hrnet')
    assert_one_error(_test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', path),
                     f'checkpoint {path} does not match the model', 'missing keys: stage')


def test_checkpoint_of_another_joint_count(tmp_path, data):
    image_dir, ann_file = data
    path = _other_checkpoint(tmp_path, 'MODEL.NUM_JOINTS', '14')
    shape = 'final_layer.weight: checkpoint (14, 8, 1, 1) vs model (17, 8, 1, 1)'
    assert_one_error(_test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', path),
                     f'checkpoint {path} does not match the model', shape)
    # The same file as fine-tuning start (--pth_path) in training.
    assert_one_error(_train(tmp_path, image_dir, ann_file, flags=['--pth_path', path]), shape)


def test_truncated_checkpoint(tmp_path, data, model_file):
    image_dir, ann_file = data
    raw = model_file.read_bytes()
    model_file.write_bytes(raw[:len(raw) // 2])
    result = run(['tools/test.py', '--cfg', TINY, *coco_opts(tmp_path / 'out', image_dir,
                                                             ann_file),
                  'TEST.MODEL_FILE', model_file])
    assert_one_error(result, f'checkpoint {model_file} is truncated or corrupt')
    # ... and as the resume point of a training run.
    assert_one_error(_train(tmp_path, image_dir, ann_file, flags=['--check_point', model_file]),
                     f'checkpoint {model_file} is truncated or corrupt')


def test_checkpoint_path_that_is_a_folder(tmp_path, data, model_file):
    """Issue 27, item 10: --init_checkpoint pointing at a folder said "not found"."""
    image_dir, ann_file = data
    folder = tmp_path / 'run_folder'
    folder.mkdir()
    message = (f'checkpoint {folder} is a folder, not a file: give the checkpoint file in it '
               '(e.g. model_best.pth or checkpoint.pth)')
    assert_one_error(_train(tmp_path, image_dir, ann_file, flags=['--init_checkpoint', folder]),
                     message)
    assert_one_error(_test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', folder), message)


def _oversized_png():
    """A valid PNG header claiming 100000 x 100000 pixels (over CV_IO_MAX_IMAGE_PIXELS)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + \
            struct.pack('>I', zlib.crc32(kind + body))
    return (b'\x89PNG\r\n\x1a\n' +
            chunk(b'IHDR', struct.pack('>IIBBBBB', 100000, 100000, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(b'\0' * 16)) + chunk(b'IEND', b''))


def test_oversized_image_header_fails_or_is_skipped_and_counted(tmp_path, data, model_file):
    """OpenCV raises (instead of returning None) for a header over its pixel limit; it is a
    bad image like any other, in training and in evaluation."""
    from mipnet.data.coco import decode_image
    image_dir, ann_file = data
    path = _replace(image_dir, BROKEN, _oversized_png())
    image, why = decode_image(str(path))
    assert image is None and 'oversized or malformed header' in why
    assert 'CV_IO_MAX_IMAGE_PIXELS' in why
    assert_one_error(_train(tmp_path, image_dir, ann_file),
                     f'image {path} could not be decoded by OpenCV (oversized',
                     'DATASET.SKIP_BROKEN_IMAGES')
    result = _train(tmp_path, image_dir, ann_file, 'DATASET.SKIP_BROKEN_IMAGES', 'True')
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'skipping broken image (1 so far): image {path} could not be decoded' \
        in result.stdout
    assert_one_error(_test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', model_file),
                     f'image {path} could not be decoded by OpenCV (oversized')
    result = _test(tmp_path, image_dir, ann_file, 'TEST.MODEL_FILE', model_file,
                   'DATASET.SKIP_BROKEN_IMAGES', 'True')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'skipping broken image (1 so far)' in result.stdout
