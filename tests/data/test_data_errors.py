"""Bad input, path resolution and box filtering on tiny generated COCO-layout datasets."""
import json
import logging
import os

import numpy as np
import pytest

from mipnet.config import load_config
from mipnet.data import DataError, build_dataset

PEOPLE = [{'bbox': [10, 10, 40, 80]}, {'bbox': [40, 20, 40, 70]}]


@pytest.fixture
def tiny(tmp_path, write_tiny_coco):
    """A 2-person 120x100 image dataset under tmp_path in COCO layout."""
    image_dir, ann_file = write_tiny_coco(tmp_path, [('a.jpg', 120, 100)], PEOPLE)
    return tmp_path, image_dir, ann_file


def _rewrite(ann_file, fn):
    data = json.loads(open(ann_file).read())
    fn(data)
    with open(ann_file, 'w') as f:
        json.dump(data, f)


def test_tiny_dataset_builds(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    ds = build_dataset(tiny_cfg(image_dir, ann_file), True)
    assert len(ds) == 2 and ds.image_dir == image_dir and ds.annotation_file == ann_file
    assert [r['instance_ann_ids'] for r in ds.db] == [[1, 2], [2, 1]]
    image, target, weight, meta = ds[1]
    assert image.shape == (3, 64, 64) and target.shape == (2, 17, 16, 16)


# ----------------------------------------------------------------------- paths
def test_root_layout_images_subdir_and_root_argument(tmp_path, write_tiny_coco):
    write_tiny_coco(tmp_path, [('a.jpg', 120, 100)], PEOPLE)
    cfg = load_config(None, ['DATASET.TRAIN_DATASET', 'synthetic', 'DATASET.TRAIN_SET', 'train',
                             'MODEL.IMAGE_SIZE', '[48, 64]', 'MODEL.HEATMAP_SIZE', '[12, 16]'])
    ds = build_dataset(cfg, True, root=str(tmp_path))
    assert ds.meta.name == 'synthetic' and len(ds) == 2
    assert ds.image_dir == str(tmp_path / 'images' / 'train')
    assert ds.annotation_file == str(tmp_path / 'annotations' / 'person_keypoints_train.json')
    assert ds[0][0].shape == (3, 64, 48)


def test_root_layout_set_dir_and_crowdpose_json(tmp_path, write_tiny_coco):
    anns = [dict(p, keypoints=[20, 30, 2] * 14, num_keypoints=14) for p in PEOPLE]
    write_tiny_coco(tmp_path, [('a.jpg', 120, 100)], anns, image_subdir='val',
                    ann_name='crowdpose_val.json')
    cfg = load_config(None, ['DATASET.DATASET', 'crowdpose', 'DATASET.ROOT', str(tmp_path),
                             'DATASET.TEST_SET', 'val', 'MODEL.NUM_JOINTS', 14,
                             'TEST.USE_GT_BBOX', True])
    ds = build_dataset(cfg, False)
    assert ds.image_dir == str(tmp_path / 'val')
    assert ds.annotation_file == str(tmp_path / 'crowdpose_val.json')


def test_missing_layout_lists_tried_paths(tmp_path):
    (tmp_path / 'images' / 'train').mkdir(parents=True)
    cfg = load_config(None, ['DATASET.ROOT', str(tmp_path), 'DATASET.TRAIN_SET', 'train'])
    with pytest.raises(DataError, match='no annotation file for set .train.; tried: .*'
                                        'person_keypoints_train.json'):
        build_dataset(cfg, True)
    with pytest.raises(DataError, match=r'no image folder for set .val2017.; tried: '
                                        r'.*images/val2017, .*/val2017\. '):
        build_dataset(cfg, False)
    with pytest.raises(DataError, match='set DATASET.ROOT'):
        build_dataset(load_config(None, []), True)


def test_unknown_dataset_and_joint_mismatch(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    with pytest.raises(DataError, match="'mpii' is not a registered dataset; valid: coco, "
                                        'crowdpose, ochuman, synthetic'):
        build_dataset(tiny_cfg(image_dir, ann_file, name='mpii'), True)
    with pytest.raises(DataError, match='MODEL.NUM_JOINTS = 17 but dataset .crowdpose. has 14 '
                                        'keypoints; set MODEL.NUM_JOINTS 14'):
        build_dataset(tiny_cfg(image_dir, ann_file, name='crowdpose'), True)


# ----------------------------------------------------------------- annotations
def test_missing_annotation_file(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    missing = ann_file.replace('train.json', 'nope.json')
    with pytest.raises(DataError, match=f'annotation file not found: {missing}'):
        build_dataset(tiny_cfg(image_dir, missing), True)


@pytest.mark.parametrize('content', ['{"images": [', '', 'not json at all'])
def test_malformed_or_truncated_json(tiny, tiny_cfg, content):
    _, image_dir, ann_file = tiny
    if content == '{"images": [':
        content = open(ann_file).read()[:200]   # a truncated real file
    with open(ann_file, 'w') as f:
        f.write(content)
    with pytest.raises(DataError, match=f'annotation file {ann_file} could not be parsed as '
                                        'JSON .*truncated or corrupt'):
        build_dataset(tiny_cfg(image_dir, ann_file), True)


def test_not_coco_format(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    with open(ann_file, 'w') as f:
        json.dump([1, 2], f)
    with pytest.raises(DataError, match='not in COCO format'):
        build_dataset(tiny_cfg(image_dir, ann_file), True)


def test_wrong_keypoint_length(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    _rewrite(ann_file, lambda d: d['annotations'][1].update(keypoints=[1, 2, 2] * 14))
    with pytest.raises(DataError, match=f'{ann_file}: annotation id 2 has 42 keypoint values; '
                                        'coco needs 3 x 17 = 51'):
        build_dataset(tiny_cfg(image_dir, ann_file), True)


def test_annotation_of_unknown_image(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    _rewrite(ann_file, lambda d: d['annotations'][0].update(image_id=99))
    with pytest.raises(DataError, match=r'annotations\[0\] \(id 1\) refers to image_id 99'):
        build_dataset(tiny_cfg(image_dir, ann_file), True)


def test_empty_after_filtering(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny

    def spoil(d):
        d['annotations'][0]['iscrowd'] = 1
        d['annotations'][1]['keypoints'] = [0] * 51
    _rewrite(ann_file, spoil)
    with pytest.raises(DataError, match=f'from {ann_file} .ground-truth boxes. has no usable '
                                        'person box after filtering'):
        build_dataset(tiny_cfg(image_dir, ann_file), True)


def test_degenerate_boxes_dropped_and_counted(tmp_path, write_tiny_coco, tiny_cfg, caplog):
    people = PEOPLE + [{'bbox': [10, 10, 0, 50]},            # zero width -> zero area
                       {'bbox': [300, 10, 20, 20]},          # right of the 120 px image
                       {'bbox': [10, 10, -5, 20]},           # negative width
                       {'bbox': [10, 10, 20, 20], 'area': 0}]
    image_dir, ann_file = write_tiny_coco(tmp_path, [('a.jpg', 120, 100)], people)
    with caplog.at_level(logging.INFO, logger='mipnet.data'):
        ds = build_dataset(tiny_cfg(image_dir, ann_file), True)
    assert len(ds) == 2
    assert '2 person boxes kept; skipped 4 degenerate box' in caplog.text


# ----------------------------------------------------------------------- images
def test_missing_empty_and_corrupt_images(tiny, tiny_cfg):
    _, image_dir, ann_file = tiny
    ds = build_dataset(tiny_cfg(image_dir, ann_file), False)
    path = f'{image_dir}/a.jpg'
    with open(path, 'wb'):
        pass
    with pytest.raises(DataError, match=f'image {path} is empty .0 bytes.; restore the file or '
                                        'set DATASET.SKIP_BROKEN_IMAGES'):
        ds[0]
    with open(path, 'wb') as f:
        f.write(b'\xff\xd8 definitely not a jpeg' * 10)
    with pytest.raises(DataError, match=f'image {path} could not be decoded'):
        ds[0]
    os.remove(path)
    with pytest.raises(DataError, match=f'image {path} does not exist'):
        ds[1]


def test_skip_broken_images(tmp_path, write_tiny_coco, tiny_cfg):
    image_dir, ann_file = write_tiny_coco(tmp_path, [('a.jpg', 120, 100)], PEOPLE)
    data = json.loads(open(ann_file).read())
    data['images'].append({'id': 2, 'file_name': 'b.jpg', 'width': 120, 'height': 100})
    data['annotations'].append(dict(data['annotations'][0], id=3, image_id=2))
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    with open(f'{image_dir}/b.jpg', 'wb'):
        pass                                            # zero-byte image
    ds = build_dataset(tiny_cfg(image_dir, ann_file, 'DATASET.SKIP_BROKEN_IMAGES', True), True)
    assert [r['ann_id'] for r in ds.db] == [1, 2, 3]
    assert ds[2][3]['ann_id'] == 1                      # wraps to the next readable sample
    assert ds[2][3]['ann_id'] == 1 and ds.skipped_images == 1
    assert ds[0][3]['ann_id'] == 1
    with pytest.raises(DataError, match='b.jpg is empty'):
        build_dataset(tiny_cfg(image_dir, ann_file), True)[2]


# ------------------------------------------------------------------ detections
def _det_cfg(tiny_cfg, image_dir, ann_file, det_file, *opts):
    return tiny_cfg(image_dir, ann_file, 'TEST.USE_GT_BBOX', False,
                    'TEST.COCO_BBOX_FILE', det_file, *opts)


def _write_dets(tmp_path, dets):
    path = tmp_path / 'dets.json'
    path.write_text(dets if isinstance(dets, str) else json.dumps(dets))
    return str(path)


GOOD = {'image_id': 1, 'category_id': 1, 'bbox': [5, 5, 50, 60], 'score': 0.9}


def test_detections_filtering_and_summary(tiny, tiny_cfg, caplog):
    tmp_path, image_dir, ann_file = tiny
    dets = [GOOD, dict(GOOD, category_id=2), dict(GOOD, score=0.05),
            dict(GOOD, bbox=[5, 5, 0, 10]), dict(GOOD, bbox=[500, 5, 10, 10]),
            dict(GOOD, score=0.3, bbox=[1.5, 2.5, 30, 20])]
    det_file = _write_dets(tmp_path, dets)
    with caplog.at_level(logging.INFO, logger='mipnet.data'):
        ds = build_dataset(_det_cfg(tiny_cfg, image_dir, ann_file, det_file,
                                    'TEST.IMAGE_THRE', 0.1), False)
    assert len(ds) == 2 and ds.box_source == f'detections from {det_file}'
    assert (f'{det_file}: 2 of 6 detections kept; skipped 1 other category, '
            '1 below TEST.IMAGE_THRE, 2 degenerate box') in caplog.text
    meta = ds[1][3]
    assert meta['score'] == pytest.approx(0.3) and meta['ann_id'] == -1
    np.testing.assert_allclose(meta['center'], [16.5, 12.5])
    np.testing.assert_allclose(meta['scale'], [30 / 200 * 1.25] * 2)


@pytest.mark.parametrize('dets,match', [
    ('[{"image_id": 1,', 'could not be parsed as JSON'),
    ({'image_id': 1}, 'must be a COCO results list'),
    ([GOOD, GOOD, {'image_id': 1, 'bbox': [1, 2, 3, 4], 'score': 0.5}],
     'record 2 lacks one of image_id, category_id, bbox, score'),
    ([GOOD, dict(GOOD, score=1.5)], r'record 1 has score 1.5 outside \[0, 1\]'),
    ([dict(GOOD, score=-0.1)], r'record 0 has score -0.1 outside \[0, 1\]'),
    ([GOOD, dict(GOOD, bbox=[1, 2, 3])], 'record 1 has an invalid bbox'),
    ([GOOD, GOOD, GOOD, dict(GOOD, image_id=42)],
     'record 3 refers to image_id 42, which is not in the annotation file'),
])
def test_detection_file_errors(tiny, tiny_cfg, dets, match):
    tmp_path, image_dir, ann_file = tiny
    det_file = _write_dets(tmp_path, dets)
    with pytest.raises(DataError, match=f'detection file {det_file}.*{match}'):
        build_dataset(_det_cfg(tiny_cfg, image_dir, ann_file, det_file), False)


def test_detection_file_missing_or_unset(tiny, tiny_cfg):
    tmp_path, image_dir, ann_file = tiny
    with pytest.raises(DataError, match='detection file not found: .*nope.json'):
        build_dataset(_det_cfg(tiny_cfg, image_dir, ann_file, str(tmp_path / 'nope.json')),
                      False)
    with pytest.raises(DataError, match='TEST.USE_GT_BBOX is false but TEST.COCO_BBOX_FILE '
                                        'is empty'):
        build_dataset(_det_cfg(tiny_cfg, image_dir, ann_file, ''), False)
    with pytest.raises(DataError, match='no usable person box'):
        det_file = _write_dets(tmp_path, [dict(GOOD, score=0.01)])
        build_dataset(_det_cfg(tiny_cfg, image_dir, ann_file, det_file,
                               'TEST.IMAGE_THRE', 0.1), False)
