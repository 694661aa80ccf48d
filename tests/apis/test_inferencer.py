"""PoseInferencer on the real fixture images: the same poses as tools/test.py's evaluation for
the same boxes, the box and instance behind every pose, inputs of every kind, bad inputs."""
import json

import cv2
import numpy as np
import pytest
import torch

from mipnet.apis import InputError, PoseInferencer
from mipnet.apis.inferencer import make_crop
from mipnet.config import load_config
from mipnet.data import build_dataset, build_loader
from mipnet.engine.evaluate import results_file, validate
from mipnet.models import build_model
from mipnet.utils.checkpoint import load_model_weights
from tests.apis._helpers import TINY, write_random_video


def _ochuman_cfg(fixtures, checkpoint):
    d = fixtures / 'ochuman'
    return load_config(TINY, [
        'DATASET.TRAIN_DATASET', 'ochuman', 'DATASET.TEST_DATASET', 'ochuman',
        'DATASET.TEST_IMAGE_DIR', str(d), 'DATASET.TEST_ANNOTATION_FILE',
        str(d / 'test_ochuman.json'), 'TEST.USE_GT_BBOX', 'True', 'TEST.FLIP_TEST', 'True',
        'TEST.MODEL_FILE', checkpoint, 'DEVICE', 'cpu', 'TEST.BATCH_SIZE_PER_GPU', '3'])


def _dataset_boxes(fixtures):
    """The person boxes the dataset crops with GT boxes: HRNet's x2 = x + w - 1, clipped to
    the image, people with at least one labelled joint."""
    ann = json.loads((fixtures / 'ochuman' / 'test_ochuman.json').read_text())
    sizes = {im['id']: (im['width'], im['height']) for im in ann['images']}
    names = {im['id']: im['file_name'] for im in ann['images']}
    boxes = {}
    for a in ann['annotations']:
        if a.get('iscrowd') or not any(v > 0 for v in a['keypoints'][2::3]):
            continue
        width, height = sizes[a['image_id']]
        x, y, w, h = a['bbox']
        x1, y1 = max(0, x), max(0, y)
        x2, y2 = min(width - 1, x1 + max(0, w - 1)), min(height - 1, y1 + max(0, h - 1))
        boxes.setdefault(names[a['image_id']], []).append([x1, y1, x2 - x1, y2 - y1])
    return boxes, {name: i for i, name in names.items()}


def test_api_matches_test_py_with_gt_boxes(fixtures, tiny_checkpoint, tmp_path):
    cfg = _ochuman_cfg(fixtures, tiny_checkpoint)
    # tools/test.py's path: dataset crops, validate() writes the merged results.
    model = build_model(cfg, is_train=False)
    load_model_weights(model, tiny_checkpoint)
    model.eval()
    loader = build_loader(cfg, build_dataset(cfg, is_train=False), False, torch.device('cpu'))
    validate(cfg, model, loader, torch.device('cpu'), str(tmp_path), progress=False)
    with open(results_file(str(tmp_path), cfg.DATASET.TEST_SET)) as f:
        expected = json.load(f)

    boxes, ids = _dataset_boxes(fixtures)
    inferencer = PoseInferencer(cfg, detector='file',
                                detector_options={'boxes_file': _write(tmp_path, boxes)})
    results = list(inferencer(str(fixtures / 'ochuman')))
    assert [r['name'] for r in results] == ['000817.jpg', '003799.jpg', '003896.jpg']
    got = [{**p, 'image_id': ids[p['image']]} for r in results for p in r['poses']]
    # Second instances survive the NMS.
    assert len(got) == len(expected) > sum(map(len, boxes.values()))
    key = lambda p: (p['image_id'], -p['score'])  # noqa: E731
    for mine, ref in zip(sorted(got, key=key), sorted(expected, key=key)):
        assert mine['image_id'] == ref['image_id'] and mine['instance'] == ref['instance']
        np.testing.assert_allclose(mine['keypoints'], ref['keypoints'], atol=1e-3)
        assert mine['score'] == pytest.approx(ref['score'], abs=1e-6)


def _write(tmp_path, data):
    path = tmp_path / 'boxes.json'
    path.write_text(json.dumps(data))
    return str(path)


def test_pose_comes_from_its_box_and_instance(fixtures, tiny_checkpoint):
    cfg = load_config(TINY, ['TEST.FLIP_TEST', 'False'])
    boxes = [[200, 300, 200, 300], [330, 200, 240, 420], [20, 20, 150, 200]]
    inferencer = PoseInferencer(cfg, tiny_checkpoint, device='cpu', detector='file',
                                detector_options={'boxes': boxes}, batch_size=2)
    image = cv2.imread(str(fixtures / 'ochuman' / '000817.jpg'))
    (result,) = list(inferencer(image))
    assert result['name'] == 'image_000000' and result['error'] is None
    np.testing.assert_allclose(result['boxes'], boxes)
    poses = result['poses']
    assert {p['box_index'] for p in poses if p['instance'] == 0} == {0, 1, 2}
    assert any(p['instance'] == 1 for p in poses)
    for p in poses:
        # Re-run the predictor on the pose's own box: its instance gives these keypoints.
        crop, center, scale = make_crop(image, boxes[p['box_index']], cfg.MODEL.IMAGE_SIZE,
                                        cfg.DATASET.COLOR_RGB)
        kpts = inferencer.predictor(torch.from_numpy(crop[None]), center[None], scale[None])
        np.testing.assert_allclose(np.reshape(p['keypoints'], (17, 3)),
                                   kpts[0, p['instance']], atol=1e-4)
        assert p['box'] == boxes[p['box_index']]
    scores = [p['score'] for p in poses]
    assert scores == sorted(scores, reverse=True)


def test_inputs_and_thresholds(fixtures, tiny_checkpoint, tmp_path):
    image = cv2.imread(str(fixtures / 'ochuman' / '000817.jpg'))
    cfg = load_config(TINY)
    whole = PoseInferencer(cfg, tiny_checkpoint, device='cpu')  # detector 'none'
    first, second = list(whole([image, str(fixtures / 'ochuman' / '003799.jpg')]))
    assert first['boxes'].tolist() == [[0.0, 0.0, 665.0, 1000.0]]
    assert second['name'] == '003799.jpg' and second['image_id'] == 3799
    assert {p['instance'] for p in first['poses']} <= {0, 1} and first['poses']
    cut = sorted(p['score'] for p in first['poses'])[-1]
    strict = PoseInferencer(cfg, tiny_checkpoint, device='cpu', score_thre=cut,
                            instances=[0])
    (only,) = list(strict(image))
    assert all(p['score'] >= cut and p['instance'] == 0 for p in only['poses'])
    assert strict.instances == [0]


def test_folder_goes_on_past_bad_files(fixtures, tiny_checkpoint, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    (folder / 'a.jpg').write_bytes((fixtures / 'ochuman' / '000817.jpg').read_bytes())
    (folder / 'b.jpg').write_bytes(b'not an image')
    (folder / 'c.png').write_bytes(b'')
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu')
    results = list(inferencer(str(folder)))
    assert [r['name'] for r in results] == ['a.jpg', 'b.jpg', 'c.png']
    assert results[0]['error'] is None and results[0]['poses']
    assert 'b.jpg could not be decoded' in results[1]['error'] and not results[1]['poses']
    assert 'c.png is empty' in results[2]['error']
    with pytest.raises(InputError, match='b.jpg could not be decoded'):
        list(inferencer(str(folder / 'b.jpg')))  # a single bad input is an error


def test_bad_inputs(tiny_checkpoint, tmp_path):
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu')
    video = tmp_path / 'broken.mp4'
    video.write_bytes(b'\x00' * 1000)
    with pytest.raises(InputError, match=r'video .*broken.mp4 (could not be opened|has no '
                                         r'readable frame)'):
        list(inferencer(str(video)))
    with pytest.raises(InputError, match='image not found: .*nothing.jpg'):
        list(inferencer(str(tmp_path / 'nothing.jpg')))
    with pytest.raises(InputError, match=r'image array 0 has shape \(4, 4\)'):
        list(inferencer(np.zeros((4, 4), np.uint8)))
    with pytest.raises(InputError, match=r'instances \[5\]: this model has instances 0..1'):
        PoseInferencer(TINY, tiny_checkpoint, device='cpu', instances=[5])


def test_video_in_results_out(tiny_checkpoint, tmp_path):
    video = write_random_video(tmp_path / 'clip.mp4', frames=3)
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu', batch_size=2)
    results = list(inferencer(str(video)))
    assert [r['frame'] for r in results] == [0, 1, 2]
    assert all(p['frame'] == r['frame'] for r in results for p in r['poses'])
    drawn = inferencer.draw(results[0], scale=1.0)  # a legend strip under the 96x80 frame
    assert drawn.shape[1] == 96 and drawn.shape[0] > 80
    assert inferencer.draw(results[0]).shape[1] == round(96 * 512 / 80)  # upscaled by default


def test_draw_labels_every_pose(fixtures, tiny_checkpoint, monkeypatch):
    from mipnet.vis import draw as vis
    labels, boxes = [], []
    real_label, real_box = vis._draw_label, vis.draw_box

    def label_spy(img, text, rect, color, scale):
        labels.append((text, color))
        return real_label(img, text, rect, color, scale)

    def box_spy(img, box, color, dashed=False, label=None, thickness=None):
        boxes.append((color, dashed))
        return real_box(img, box, color, dashed=dashed, label=label, thickness=thickness)

    monkeypatch.setattr(vis, '_draw_label', label_spy)
    monkeypatch.setattr(vis, 'draw_box', box_spy)
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu', detector='file',
                                detector_options={'boxes': [[200, 300, 200, 300]]})
    (result,) = list(inferencer(str(fixtures / 'ochuman' / '000817.jpg')))
    inferencer.draw(result)
    expected = [(f'b0 k={p["instance"]} {p["score"]:.2f}', vis.pose_color(i))
                for i, p in enumerate(result['poses'])]
    assert sorted(labels) == sorted(expected) and len(expected) == 2
    # each pose's box in its colour, dashed for instance k >= 1
    assert sorted((vis.pose_color(i), p['instance'] >= 1)
                  for i, p in enumerate(result['poses'])) == sorted(
        b for b in boxes if b[0] != (160, 160, 160))


# ----------------------------------------------------------------- issue 27, items 6 and 10
def test_boxes_are_cropped_and_run_in_bounded_batches(fixtures, tiny_checkpoint,
                                                      monkeypatch):
    """200,000 boxes grew memory past 9 GB: every crop was made before the first forward
    pass. Now at most one batch of crops exists at a time."""
    import mipnet.apis.inferencer as api
    events = []
    real_crop = api.make_crop

    def make_crop(*args, **kwargs):
        events.append(1)
        return real_crop(*args, **kwargs)
    monkeypatch.setattr(api, 'make_crop', make_crop)
    boxes = [[10 + 7 * i, 20 + 5 * i, 80, 120] for i in range(30)]
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu', batch_size=8,
                                detector='file', detector_options={'boxes': boxes})
    real_predict = inferencer.predictor.__call__

    class Spy:
        instances = inferencer.predictor.instances
        flip_index = inferencer.predictor.flip_index

        def __call__(self, batch, centers, scales):
            events.append(-len(batch))
            return real_predict(batch, centers, scales)
    inferencer.predictor = Spy()
    (result,) = list(inferencer(str(fixtures / 'ochuman' / '000817.jpg')))
    outstanding = np.cumsum(events)
    assert outstanding.max() <= 8 and outstanding[-1] == 0
    assert sorted(-e for e in events if e < 0) == [6, 8, 8, 8]
    assert {p['box_index'] for p in result['poses']} <= set(range(30)) and result['poses']


def test_absurd_box_counts_are_refused_with_the_limit(fixtures, tiny_checkpoint):
    image = str(fixtures / 'ochuman' / '000817.jpg')
    boxes = [[10, 20, 80, 120]] * 1001
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu', detector='file',
                                detector_options={'boxes': boxes})
    with pytest.raises(InputError, match=r'^1001 person boxes for image 000817.jpg: more '
                                         r'than the 1000 one image may have \(max_boxes'):
        list(inferencer(image))
    few = PoseInferencer(TINY, tiny_checkpoint, device='cpu', detector='file', max_boxes=2,
                         detector_options={'boxes': boxes[:3]})
    with pytest.raises(InputError, match='3 person boxes for image 000817.jpg: more than '
                                         'the 2'):
        list(few(image))
    with pytest.raises(InputError, match='max_boxes 0 must be an integer >= 1'):
        PoseInferencer(TINY, tiny_checkpoint, device='cpu', max_boxes=0)


@pytest.mark.parametrize('value, message', [
    (None, r'input 0 is NoneType None; expected a BGR uint8 \(H, W, 3\) image array or the '
           'path of an image'),
    # An int is a camera index (issue 29): one clear error when there is no such camera.
    (7, r'camera 7 could not be opened'),
    ([np.zeros((4, 4, 3), np.uint8), 3.5], 'input 1 is float 3.5; expected'),
    (np.zeros((0, 0, 3), np.uint8), r'image array 0 is empty \(shape \(0, 0, 3\)\)'),
    (np.zeros((5, 0, 3), np.uint8), r'image array 0 is empty \(shape \(5, 0, 3\)\)'),
])
def test_inputs_of_the_wrong_kind_are_named(tiny_checkpoint, value, message):
    """None or an int gave a bare TypeError; a 0x0 array an error naming a box."""
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu')
    with pytest.raises(InputError, match=message):
        list(inferencer(value))


@pytest.mark.parametrize('value', [float('nan'), 1.5, -0.1, '0.5', True])
def test_score_threshold_must_be_a_number_in_0_1(tiny_checkpoint, value):
    with pytest.raises(InputError, match=r'score threshold .* must be a number in \[0, 1\]'):
        PoseInferencer(TINY, tiny_checkpoint, device='cpu', score_thre=value)


def test_folder_names_the_videos_it_does_not_read(fixtures, tiny_checkpoint, tmp_path,
                                                   caplog):
    """Issue 27, item 11: the videos of a folder were ignored silently."""
    folder = tmp_path / 'mixed'
    folder.mkdir()
    (folder / 'a.jpg').write_bytes((fixtures / 'ochuman' / '000817.jpg').read_bytes())
    write_random_video(folder / 'clip.mp4', frames=2)
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu')
    with caplog.at_level('WARNING', logger='mipnet.apis'):
        results = list(inferencer(str(folder)))
    assert [r['name'] for r in results] == ['a.jpg']
    assert f'folder {folder}: 1 video(s) not read (clip.mp4); a folder input reads its ' \
        'images only, give each video as an input of its own' in caplog.text
    (folder / 'a.jpg').unlink()
    with pytest.raises(InputError, match=r'no images .* in folder .*mixed \(only videos'):
        list(inferencer(str(folder)))


@pytest.mark.parametrize('opts, given, expected', [
    ([], None, 8),                                         # CPU: at most TEST.CPU_BATCH_SIZE
    (['TEST.BATCH_SIZE_PER_GPU', '4'], None, 4),           # a smaller GPU batch stays
    (['TEST.CPU_BATCH_SIZE', '0'], None, 256),             # 0: the GPU batch on the CPU too
    ([], 300, 300),                                        # an explicit batch size wins
    ([], np.int64(5), 5),
])
def test_cpu_default_batch_size(tiny_checkpoint, opts, given, expected):
    """A GPU-sized evaluation batch (256 boxes and their flips) ran 1.5x slower per box on
    the CPU than 8 boxes (docs/benchmarks.md), so the CPU default is capped."""
    inferencer = PoseInferencer(TINY, tiny_checkpoint, device='cpu', batch_size=given,
                                opts=['TEST.BATCH_SIZE_PER_GPU', '256', *opts])
    assert inferencer.batch_size == expected and type(inferencer.batch_size) is int


@pytest.mark.parametrize('value', [0, -1, 2.5, True, '8'])
def test_batch_size_must_be_a_positive_integer(tiny_checkpoint, value):
    with pytest.raises(InputError, match=f'batch size {value!r} must be a positive integer'):
        PoseInferencer(TINY, tiny_checkpoint, device='cpu', batch_size=value)


def test_negative_cpu_batch_size_is_refused():
    from mipnet.config import ConfigError
    with pytest.raises(ConfigError, match=r'^TEST.CPU_BATCH_SIZE = -1 must be >= 0'):
        load_config(TINY, ['TEST.CPU_BATCH_SIZE', '-1'])
