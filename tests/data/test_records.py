"""Box records (mipnet.data.records) built from plain arguments, without a dataset or config."""
import numpy as np
import pytest

from mipnet.data import DataError
from mipnet.data.records import (ANNOTATION_PATTERNS, RecordBuilder, load_annotations,
                                 resolve_paths)


def _builder(fixtures_dir, num_instances=2, aspect_ratio=0.75):
    d = fixtures_dir / 'coco'
    return RecordBuilder('coco', 17, num_instances, aspect_ratio, str(d / 'test_coco.json'),
                         str(d))


def test_ground_truth_records_pair_each_person_with_the_nearest_other(fixtures_dir,
                                                                      raw_annotations):
    images, anns_by_image = load_annotations(str(fixtures_dir / 'coco' / 'test_coco.json'))
    builder = _builder(fixtures_dir, num_instances=3)
    db = builder.ground_truth(images, anns_by_image)
    _, anns = raw_annotations('coco')
    kept = [a for a in anns if a['category_id'] == 1 and not a.get('iscrowd', 0)
            and any(v > 0 for v in a['keypoints'][2::3]) and a['bbox'][2] > 0
            and a['bbox'][3] > 0]
    assert sorted(r['ann_id'] for r in db) == sorted(a['id'] for a in kept)
    by_id = {r['ann_id']: r for r in db}
    for r in db:
        assert r['joints'].shape == (3, 17, 3) and r['instance_valid'].shape == (3,)
        ids = r['instance_ann_ids']
        assert ids[0] == r['ann_id']
        others = [k for k in by_id if by_id[k]['image_id'] == r['image_id'] and k != ids[0]]
        dist = sorted(float(np.sum((by_id[k]['center'] - r['center']) ** 2)) for k in others)
        genuine = int(r['instance_valid'].sum())
        assert genuine == 1 + min(len(others), 2)
        got = [float(np.sum((by_id[k]['center'] - r['center']) ** 2)) for k in ids[1:genuine]]
        assert got == dist[:genuine - 1]
        assert all(k == ids[0] for k in ids[genuine:])  # padding repeats instance 0
        assert r['image'] == builder.image_path(images[r['image_id']])
        # The padded box keeps the aspect ratio of the network input.
        assert r['scale'][0] / r['scale'][1] == pytest.approx(0.75)


def test_detection_records_and_bad_detection_file(fixtures_dir, tmp_path):
    d = fixtures_dir / 'coco'
    images, _ = load_annotations(str(d / 'test_coco.json'))
    builder = _builder(fixtures_dir)
    db = builder.detections(str(d / 'test_coco_det_AP_H_56.json'), images, 0.0)
    assert db and all(r['ann_id'] == -1 and list(r['instance_valid']) == [1.0, 0.0]
                      and not r['joints'].any() for r in db)
    assert len(builder.detections(str(d / 'test_coco_det_AP_H_56.json'), images, 0.9)) < len(db)
    bad = tmp_path / 'det.json'
    bad.write_text('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 2}]')
    with pytest.raises(DataError, match='score 2 outside'):
        builder.detections(str(bad), images, 0.0)


def test_resolve_paths_tries_the_given_patterns(tmp_path):
    from mipnet.config import load_config
    (tmp_path / 'images' / 'val').mkdir(parents=True)
    cfg = load_config(None, ['DATASET.ROOT', str(tmp_path), 'DATASET.TEST_SET', 'val'])
    with pytest.raises(DataError, match=r'no annotation file for set .val.; tried: .*a_val\.json'):
        resolve_paths(cfg, False, name='mine', annotation_patterns=('a_{}.json',))
    (tmp_path / 'a_val.json').write_text('{}')
    assert resolve_paths(cfg, False, annotation_patterns=('a_{}.json',)) == (
        str(tmp_path / 'images' / 'val'), str(tmp_path / 'a_val.json'))
    assert ANNOTATION_PATTERNS == ('annotations/person_keypoints_{}.json',)
