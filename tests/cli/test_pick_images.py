"""tools/pick_images.py: the demo pictures are the images where instance 1 finds people."""
import json

import pytest

from mipnet.cli.pick_images import main, pick_images
from mipnet.evaluation.subsets import occluded_ann_ids
from tests.engine.conftest import synthetic_root  # noqa: F401 - the fixture


def _as_results(anns, score=0.9):
    return [{'image_id': a['image_id'], 'category_id': 1, 'keypoints': a['keypoints'],
             'score': score} for a in anns]


def test_images_where_only_instance_1_finds_people_come_first(synthetic_root, tmp_path, capsys):
    gt_file = synthetic_root / 'annotations' / 'person_keypoints_val.json'
    gt = json.loads(gt_file.read_text())
    people = [a for a in gt['annotations'] if a['num_keypoints'] > 0]
    occluded = occluded_ann_ids(gt)
    hidden = sorted(a['id'] for a in people if a['id'] in occluded)
    x, y = hidden[0], hidden[-1]  # found only by instance 1; y's pose scores under 0.2
    first = _as_results([a for a in people if a['id'] not in (x, y)])
    second = _as_results([a for a in people if a['id'] == x]) + \
        _as_results([a for a in people if a['id'] == y], score=0.1)
    image_of = {a['id']: a['image_id'] for a in people}
    occluded_images = sorted({image_of[a] for a in occluded} - {image_of[x]})
    picked = pick_images(gt_file, first, second, num=3)
    assert picked[0] == (image_of[x], [x])
    assert picked[1:] == [(img, []) for img in occluded_images[:2]]

    results = tmp_path / 'results'
    results.mkdir()
    for i, res in enumerate((first, second)):
        (results / f'keypoints_val_results_instance{i}.json').write_text(json.dumps(res))
    out = tmp_path / 'picked'
    main(['--gt', str(gt_file), '--results-dir', str(results), '--num', '1',
          '--images', str(synthetic_root / 'images' / 'val'), '--out', str(out)])
    name = next(im['file_name'] for im in gt['images'] if im['id'] == image_of[x])
    assert sorted(p.name for p in out.iterdir()) == [name]
    assert f'{name}: people found only by instance 1: 1 (annotation ids {x})' in \
        capsys.readouterr().out


def test_a_malformed_results_file_is_one_error(synthetic_root, tmp_path, capsys):
    """A results record with "score": true was scored as 1.0 (issue 27, item 11)."""
    gt_file = synthetic_root / 'annotations' / 'person_keypoints_val.json'
    gt = json.loads(gt_file.read_text())
    people = [a for a in gt['annotations'] if a['num_keypoints'] > 0]
    results = tmp_path / 'results'
    results.mkdir()
    (results / 'keypoints_val_results_instance0.json').write_text(
        json.dumps(_as_results(people)))
    bad = _as_results(people[:2])
    bad[1]['score'] = True
    (results / 'keypoints_val_results_instance1.json').write_text(json.dumps(bad))
    with pytest.raises(SystemExit) as info:
        main(['--gt', str(gt_file), '--results-dir', str(results), '--images',
              str(synthetic_root / 'images' / 'val'), '--out', str(tmp_path / 'picked')])
    assert info.value.code == (f'error: results file '
                               f'{results / "keypoints_val_results_instance1.json"}: result 1 '
                               'has a boolean score (True); expected numbers')
    assert not (tmp_path / 'picked').exists()
