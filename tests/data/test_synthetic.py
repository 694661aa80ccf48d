"""Tests of the synthetic crowded-people dataset generator (mipnet.data.synthetic)."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO as CocoApi

from mipnet.data.metadata import COCO
from mipnet.data.synthetic import (OCHUMAN_LIKE, OCHUMAN_PUBLISHED, SyntheticConfig,
                                   crowd_statistics, crowd_statistics_table, generate_dataset,
                                   generate_split, max_iou_per_person, overlap_pair_fraction,
                                   render_image)
from mipnet.cli import make_synthetic
from mipnet.utils.boxes import box_iou_matrix

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / 'tools' / 'make_synthetic.py'
SIZE = (128, 96)




def _tree_bytes(root):
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth') / 'ds'
    stats = generate_dataset(out, 6, 3, seed=0, image_size=SIZE)
    return out, stats


def test_tiny_dataset_is_valid_coco(tiny):
    out, stats = tiny
    assert stats['train']['images'] == 6 and stats['val']['images'] == 3
    for split, n in (('train', 6), ('val', 3)):
        ann_file = out / 'annotations' / f'person_keypoints_{split}.json'
        coco = CocoApi(str(ann_file))
        assert sorted(coco.getImgIds()) == list(range(1, n + 1))
        cat = coco.loadCats(1)[0]
        assert cat['name'] == 'person'
        assert cat['keypoints'] == list(COCO.keypoint_names)
        assert cat['skeleton'] == [[a + 1, b + 1] for a, b in COCO.skeleton]
        for img in coco.loadImgs(coco.getImgIds()):
            assert img['file_name'] == f'{img["id"]:012d}.jpg'
            assert (img['width'], img['height']) == SIZE
            pixels = cv2.imread(str(out / 'images' / split / img['file_name']))
            assert pixels is not None and pixels.shape == (SIZE[1], SIZE[0], 3)
        anns = coco.loadAnns(coco.getAnnIds())
        assert anns and len({a['id'] for a in anns}) == len(anns)
        per_image = {}
        for a in anns:
            per_image[a['image_id']] = per_image.get(a['image_id'], 0) + 1
            assert a['category_id'] == 1 and a['iscrowd'] == 0
            kps = np.array(a['keypoints'], dtype=float).reshape(-1, 3)
            assert kps.shape == (17, 3)
            v = kps[:, 2]
            assert set(np.unique(v)) <= {0, 1, 2}
            assert np.all(kps[v == 0, :2] == 0)
            assert a['num_keypoints'] == int((v > 0).sum()) > 0
            on = kps[v > 0]
            assert np.all(on[:, 0] >= 0) and np.all(on[:, 0] <= SIZE[0] - 1)
            assert np.all(on[:, 1] >= 0) and np.all(on[:, 1] <= SIZE[1] - 1)
            x, y, w, h = a['bbox']
            assert x >= 0 and y >= 0 and w > 0 and h > 0
            assert x + w <= SIZE[0] and y + h <= SIZE[1]
            # Visible joints lie in (or at the edge of) the box of the visible pixels.
            seen = kps[v == 2]
            assert np.all(seen[:, 0] >= x - 1) and np.all(seen[:, 0] <= x + w)
            assert np.all(seen[:, 1] >= y - 1) and np.all(seen[:, 1] <= y + h)
            assert 0 < a['area'] <= w * h
        assert set(per_image.values()) <= {1, 2, 3, 4}


def test_deterministic_for_a_seed(tiny, tmp_path):
    out, _ = tiny
    again = tmp_path / 'again'
    generate_dataset(again, 6, 3, seed=0, image_size=SIZE)
    assert _tree_bytes(out) == _tree_bytes(again)  # JSON and JPEG bytes

    other = tmp_path / 'other'
    generate_dataset(other, 6, 3, seed=1, image_size=SIZE)
    a, b = _tree_bytes(out), _tree_bytes(other)
    assert a.keys() == b.keys()
    assert a['annotations/person_keypoints_train.json'] != \
        b['annotations/person_keypoints_train.json']
    assert a['images/train/000000000001.jpg'] != b['images/train/000000000001.jpg']


def test_crowded_overlaps_and_occlusions():
    anns, v = [], []
    for i in range(40):
        _, people = render_image(3, 'train', i)
        for p in people:
            anns.append(dict(image_id=i, bbox=p['bbox']))
            v.append(p['keypoints'][:, 2])
    v = np.concatenate(v)
    # The point of the dataset: boxes that contain another person.
    assert overlap_pair_fraction(dict(annotations=anns)) >= 0.4
    assert (v == 1).sum() > 0.05 * (v > 0).sum()  # joints hidden by nearer people
    assert (v == 2).sum() > 0.5 * v.size


def test_boxes_and_areas_follow_the_visible_pixels():
    # COCO-style: a person hidden in part by a nearer one gets the box and area of what is
    # seen; an unhidden person's box is that of the whole drawn body.
    shrunk = 0
    for i in range(30):
        _, people = render_image(5, 'val', i)
        for p in people:
            x, y, w, h = p['bbox']
            fx, fy, fw, fh = p['full_bbox']
            assert fx <= x and fy <= y and x + w <= fx + fw and y + h <= fy + fh
            assert 0 < p['area'] <= p['full_area'] <= fw * fh
            assert p['area'] >= 0.3 * p['full_area']  # SyntheticConfig.min_visible_fraction
            assert (p['keypoints'][:, 2] == 2).sum() >= 6  # .min_visible_joints
            if p['area'] == p['full_area']:
                assert p['bbox'] == p['full_bbox']
            shrunk += p['bbox'] != p['full_bbox']
    assert shrunk >= 5


def test_overlap_and_visibility_settings_are_honoured():
    loose = SyntheticConfig(people_probs=(0, 0, 0, 1), overlap_prob=1.0,
                            overlap_shift=(0.0, 0.1), min_visible_fraction=0.15,
                            min_visible_joints=4)
    default_iou, loose_iou, fractions = [], [], []
    for i in range(12):
        for cfg, ious in ((SyntheticConfig(), default_iou), (loose, loose_iou)):
            _, people = render_image(1, 'train', i, config=cfg)
            boxes = [p['full_bbox'] for p in people]
            if len(boxes) > 1:
                iou = box_iou_matrix(boxes)
                np.fill_diagonal(iou, 0)
                ious += iou.max(axis=1).tolist()
            if cfg is loose:
                fractions += [p['area'] / p['full_area'] for p in people]
                assert all((p['keypoints'][:, 2] == 2).sum() >= 4 for p in people)
    assert min(fractions) >= 0.15 and min(fractions) < 0.3  # more hidden than the default
    assert np.mean(loose_iou) > np.mean(default_iou) + 0.1


def test_cli_with_workers_writes_same_dataset_and_preview(tiny, tmp_path):
    # Same bytes as the in-process, single-worker library run: the CLI is a thin wrapper
    # and the output does not depend on the number of worker processes.
    out, _ = tiny
    cli_out = tmp_path / 'cli'
    preview = tmp_path / 'preview.png'
    res = subprocess.run([sys.executable, str(CLI), '--out', str(cli_out), '--num-train', '6',
                          '--num-val', '3', '--seed', '0', '--image-size', *map(str, SIZE),
                          '--workers', '2', '--preview', str(preview)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert 'images/s' in res.stdout
    assert _tree_bytes(out) == _tree_bytes(cli_out)
    image = cv2.imread(str(preview))
    assert image is not None and image.shape[:2] == (2 * SIZE[1], 2 * SIZE[0])
    # By default the preview is the most crowded val image: the largest occluded people.
    data = json.loads((cli_out / 'annotations' / 'person_keypoints_val.json').read_text())
    index = make_synthetic.most_crowded_index(data)
    assert f'preview (val image {index}) -> {preview}' in res.stdout


def test_most_crowded_index_prefers_large_overlapping_people():
    def ann(i, image, x, area=100.0):
        return {'id': i, 'image_id': image, 'category_id': 1, 'bbox': [x, 0, 10, 20],
                'area': area}
    images = [{'id': i} for i in (1, 2, 3, 4)]
    anns = [ann(1, 1, 0),                                        # one person
            ann(2, 2, 0), ann(3, 2, 50), ann(4, 2, 100),          # three apart
            ann(5, 3, 0, 30), ann(6, 3, 1, 30),                   # a small occluded pair
            ann(7, 4, 0), ann(8, 4, 1), ann(9, 4, 60)]            # a large pair, one more
    data = {'images': images, 'annotations': anns}
    assert make_synthetic.most_crowded_index(data) == 3
    data['annotations'] = anns[:6]
    assert make_synthetic.most_crowded_index(data) == 2  # a pair beats three apart
    data['annotations'] = anns[:4]
    assert make_synthetic.most_crowded_index(data) == 1  # no pair: the most people


@pytest.mark.parametrize('args, message', [
    (['--num-train', '-1', '--num-val', '1'], 'must be >= 0'),
    (['--num-train', '1', '--num-val', 'x'], 'expected an integer'),
    (['--num-train', '1', '--num-val', '1', '--image-size', '16', '16'], 'image size'),
    (['--num-train', '1', '--num-val', '1', '--workers', '0'], 'must be >= 1'),
    (['--num-train', '1', '--num-val', '0', '--preview', 'p.png'], '--num-val'),
    ('UNWRITABLE', 'cannot write'),
])
def test_bad_arguments_exit_2(args, message, tmp_path, capsys):
    out = tmp_path / 'out'
    if args == 'UNWRITABLE':
        blocker = tmp_path / 'a_file'
        blocker.write_text('not a folder')
        out = blocker / 'sub'
        args = ['--num-train', '1', '--num-val', '1']
    with pytest.raises(SystemExit) as exc:
        make_synthetic.main(['--out', str(out), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert 'error:' in err and message in err


def test_library_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='>= 0'):
        generate_dataset(tmp_path, -1, 1)
    with pytest.raises(ValueError, match='seed'):
        generate_dataset(tmp_path, 1, 1, seed=-5)
    with pytest.raises(ValueError, match='image size'):
        generate_dataset(tmp_path, 1, 1, image_size=(10, 5000))


def test_annotation_json_is_plain_coco(tiny):
    out, _ = tiny
    data = json.loads((out / 'annotations' / 'person_keypoints_val.json').read_text())
    assert {'images', 'annotations', 'categories'} <= data.keys()
    ann = data['annotations'][0]
    assert {'id', 'image_id', 'category_id', 'iscrowd', 'bbox', 'area', 'num_keypoints',
            'keypoints'} <= ann.keys()
    assert len(ann['keypoints']) == 51


# ---------------------------------------------------------------------------------------
# OCHuman-like validation split.

def test_ochuman_like_split_every_person_overlaps_another(tmp_path):
    path = generate_split(tmp_path, 'val_ochuman', 40, seed=3, config=OCHUMAN_LIKE)
    data = json.loads(Path(path).read_text())
    stats = crowd_statistics(data)
    max_iou = max_iou_per_person(data)
    assert len(max_iou) == stats['people'] == len(data['annotations']) >= 80
    assert min(max_iou.values()) >= 0.5  # the guarantee, on the written boxes
    assert stats['min_max_iou'] >= 0.5 and stats['overlapping_fraction'] == 1.0
    assert abs(stats['mean_max_iou'] - OCHUMAN_PUBLISHED['mean_max_iou']) < 0.06
    assert sum(stats['max_iou_histogram'][:5]) == 0
    assert sum(stats['max_iou_histogram']) == stats['people']
    assert set(stats['people_histogram']) <= {2, 3, 4}
    # Heavier than the default generator: more of the labelled joints are hidden.
    default = crowd_statistics(json.loads(Path(generate_split(
        tmp_path, 'val', 40, seed=3)).read_text()))
    assert stats['occluded_joint_fraction'] > default['occluded_joint_fraction']
    assert default['mean_max_iou'] < 0.5


def test_min_max_iou_that_cannot_hold_leaves_no_person_alone():
    # One person per image can never overlap another: the fallback drops the person.
    cfg = SyntheticConfig(people_probs=(1.0,), min_max_iou=0.5, max_attempts=2)
    image, people = render_image(0, 'val', 0, SIZE, cfg)
    assert people == [] and image.shape == (SIZE[1], SIZE[0], 3)


def test_crowd_statistics_values():
    def ann(i, image_id, box, v):
        return dict(id=i, image_id=image_id, category_id=1, iscrowd=0, bbox=box,
                    keypoints=[0, 0, v[0], 0, 0, v[1]])
    data = dict(images=[dict(id=1), dict(id=2), dict(id=3)], annotations=[
        ann(1, 1, [0, 0, 10, 10], (2, 1)), ann(2, 1, [0, 0, 10, 5], (1, 0)),
        ann(3, 2, [0, 0, 4, 4], (2, 2)),
        dict(ann(4, 1, [0, 0, 10, 10], (2, 2)), iscrowd=1)])
    assert max_iou_per_person(data) == {1: 0.5, 2: 0.5, 3: 0.0}
    st = crowd_statistics(data)
    assert st['images'] == 3 and st['people'] == 3
    assert st['people_per_image'] == 1.0
    assert st['people_histogram'] == {0: 1, 1: 1, 2: 1}
    assert st['mean_max_iou'] == pytest.approx(1 / 3) and st['min_max_iou'] == 0.0
    assert st['overlapping_fraction'] == pytest.approx(2 / 3)
    assert st['max_iou_histogram'] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 0]
    assert st['occluded_joint_fraction'] == pytest.approx(2 / 5)
    table = crowd_statistics_table([('x', st), ('published', OCHUMAN_PUBLISHED)])
    assert '| x | 3 | 3 | 1.00 | 0.333 | 0.000 | 66.7% | 40.0% | 1 0 0 0 0 2 0 0 0 0 |' in table
    assert '| published | 4731 | 8110 | 1.71 | 0.670 | 0.500 | n/a | n/a | n/a |' in table


def test_cli_writes_ochuman_like_split_and_statistics(tmp_path, fixtures):
    fixture = fixtures / 'ochuman' / 'test_ochuman.json'
    res = subprocess.run([sys.executable, str(CLI), '--out', str(tmp_path / 'ds'),
                          '--num-train', '0', '--num-val', '3', '--num-val-ochuman', '4',
                          '--ochuman-json', str(fixture)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / 'ds' / 'annotations' / 'person_keypoints_val_ochuman.json').is_file()
    assert len(list((tmp_path / 'ds' / 'images' / 'val_ochuman').glob('*.jpg'))) == 4
    assert '| synthetic val_ochuman | 4 |' in res.stdout
    assert '| OCHuman file test_ochuman.json | 3 | 5 | 1.67 | 0.547 |' in res.stdout
    assert '| OCHuman, published (its people with IoU > 0.5) | 4731 |' in res.stdout
    bad = subprocess.run([sys.executable, str(CLI), '--out', str(tmp_path / 'x'),
                          '--num-train', '0', '--num-val', '1', '--num-val-ochuman', '1',
                          '--ochuman-json', str(tmp_path / 'missing.json')],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and 'missing.json' in bad.stderr
