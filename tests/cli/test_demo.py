"""tools/demo.py: poses of a tiny random model on real fixture images, box sources, errors."""
import json
import logging
import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
import torch

from mipnet.config import load_config
from mipnet.cli.demo import BoxSource, DemoError, check_box, main
from mipnet.models import build_model
from tests.apis._helpers import save_tiny_random_checkpoint, write_random_video
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
IMAGE = 'ochuman/000817.jpg'  # 665 x 1000
# Inside the image even after the 1.25x enlargement to the square model input.
BOXES = ['200,300,200,300', '330,200,240,420']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_random_checkpoint(tmp_path_factory.mktemp('demo_ckpt') / 'tiny.pth')


def _run(capsys, *args):
    code = main(['--cfg', TINY, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_demo_image_with_boxes(tmp_path, fixtures, checkpoint, capsys):
    out = tmp_path / 'out'
    code, stdout, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image',
                             str(fixtures / IMAGE), '--boxes', *BOXES, '--out', str(out),
                             '--batch-size', '3')
    assert code == 0, err
    assert '000817.json: ' in stdout
    results = json.loads((out / '000817.json').read_text())
    image = cv2.imread(str(fixtures / IMAGE))
    height, width = image.shape[:2]
    boxes = [[float(v) for v in b.split(',')] for b in BOXES]
    assert 2 <= len(results) <= 4  # two boxes x two instances, after OKS-NMS
    for r in results:
        assert r['image'] == '000817.jpg' and r['image_id'] == 817 and r['category_id'] == 1
        assert r['instance'] in (0, 1) and r['box'] in boxes
        assert 0.0 <= r['score'] <= 1.0
        kpts = np.asarray(r['keypoints']).reshape(17, 3)
        assert (kpts[:, 0] >= 0).all() and (kpts[:, 0] < width).all()
        assert (kpts[:, 1] >= 0).all() and (kpts[:, 1] < height).all()
    # One primary pose per box (different boxes never duplicate each other).
    assert sorted(map(str, (r['box'] for r in results if r['instance'] == 0))) == \
        sorted(map(str, boxes))

    drawn = cv2.imread(str(out / '000817.png'))
    # At least 512 px already: drawn at scale 1, with the legend strip under the picture.
    assert drawn.shape[1:] == image.shape[1:] and 1000 < drawn.shape[0] < 1200
    assert (drawn[1001:] > 200).mean() > 0.8  # the legend: dark text on white
    drawn = drawn[:1000]
    changed = np.abs(drawn.astype(int) - image.astype(int)).sum(axis=2) > 30
    for r in results:
        if r['instance'] == 0:
            kpts = np.asarray(r['keypoints']).reshape(17, 3)
            xs, ys = np.round(kpts[:, 0]).astype(int), np.round(kpts[:, 1]).astype(int)
            assert changed[ys, xs].all(), 'joint markers missing in the drawing'
    assert changed.mean() < 0.5


def test_demo_draws_small_images_upscaled(tmp_path, checkpoint, capsys):
    """A 200x150 image is drawn with its shorter side at 512 px by default (labels and
    markers legible), or ``--draw-scale`` times its size; the JSON stays in image pixels."""
    image = np.random.default_rng(0).integers(0, 255, (150, 200, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'small.png'), image)
    args = ['TEST.MODEL_FILE', checkpoint, '--image', str(tmp_path / 'small.png'), '--boxes',
            '20,10,80,120', '100,20,90,120']
    poses = {}
    for draw_scale, factor in ((None, 512 / 150), ('1', 1.0), ('2.5', 2.5)):
        out = tmp_path / f'out{draw_scale}'
        extra = ['--draw-scale', draw_scale] if draw_scale else []
        code, _, err = _run(capsys, *args, '--out', str(out), *extra)
        assert code == 0, err
        drawn = cv2.imread(str(out / 'small.png'))
        w, h = round(200 * factor), round(150 * factor)
        assert drawn.shape[1] == w and drawn.shape[0] > h  # the legend under the picture
        poses[draw_scale] = json.loads((out / 'small.json').read_text())
        kpts = np.concatenate([np.asarray(p['keypoints']).reshape(17, 3) for p in poses[draw_scale]])
        x, y = next(k[:2] for k in kpts if 0 <= k[0] < 200 and 0 <= k[1] < 150)
        background = cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC) \
            if factor != 1 else image
        changed = np.abs(drawn[:h].astype(int) - background.astype(int)).sum(axis=2) > 30
        assert changed[int(round((y + 0.5) * factor - 0.5)), int(round((x + 0.5) * factor - 0.5))]
    assert poses[None] == poses['1'] == poses['2.5']  # image pixels, whatever the drawing
    code, _, err = _run(capsys, *args, '--out', str(tmp_path / 'bad'), '--draw-scale', '0')
    assert code == 1 and 'error: --draw-scale 0.0: must be a positive factor' in err


def test_demo_cli_folder_with_coco_annotation_boxes(tmp_path, fixtures, checkpoint):
    out = tmp_path / 'out'
    folder = fixtures / 'ochuman'
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'demo.py'), '--cfg', TINY,
         'TEST.MODEL_FILE', checkpoint, '--image', str(folder),
         '--boxes-file', str(folder / 'test_ochuman.json'), '--out', str(out), '--flip',
         '--instances', '0', '--device', 'cpu'],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    ann = json.loads((folder / 'test_ochuman.json').read_text())
    per_image = {}
    for a in ann['annotations']:
        per_image[a['image_id']] = per_image.get(a['image_id'], 0) + 1
    for im in ann['images']:
        stem = os.path.splitext(im['file_name'])[0]
        results = json.loads((out / f'{stem}.json').read_text())
        assert (out / f'{stem}.png').stat().st_size > 0
        # Only instance 0 was run; one pose per ground-truth box survives the NMS.
        assert len(results) == per_image[im['id']]
        assert all(r['instance'] == 0 and 0 <= r['score'] <= 1 for r in results)
    assert 'flip test on' in proc.stderr


def test_demo_video(tmp_path, checkpoint, capsys, caplog):
    caplog.set_level(logging.INFO, logger='mipnet.cli.demo')
    video = write_random_video(tmp_path / 'clip.mp4', frames=4)
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(video),
                        '--out', str(tmp_path / 'out'))
    assert code == 0, err
    assert 'using the whole image as one person box' in caplog.text  # no boxes given
    cap = cv2.VideoCapture(str(tmp_path / 'out' / 'clip.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    cap.release()
    results = json.loads((tmp_path / 'out' / 'clip.json').read_text())
    assert {r['frame'] for r in results} == {0, 1, 2, 3}
    assert all(r['box'] == [0.0, 0.0, 96.0, 80.0] for r in results)


@pytest.mark.parametrize('args, message', [
    (['--image', 'missing.jpg', '--boxes', '0,0,10,10'], 'error: image not found: missing.jpg'),
    (['--image', '{img}', '--boxes', '5000,20,50,50'], 'error: box [5000, 20, 50, 50] lies '
                                                       'outside image 000817.jpg (665x1000)'),
    (['--image', '{img}', '--boxes', '10,20,0,50'], 'error: degenerate box [10, 20, 0, 50]'),
    (['--image', '{img}', '--boxes', '10,20,50'], "error: --boxes '10,20,50': expected x,y,w,h"),
    (['--image', '{img}', '--instances', '2'], 'error: instances [2]: this model has '
                                               'instances 0..1'),
])
def test_demo_input_errors(args, message, fixtures, checkpoint, tmp_path, capsys):
    args = [a.replace('{img}', str(fixtures / IMAGE)) for a in args]
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, *args, '--out', str(tmp_path))
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[-1].startswith(message), err


def test_demo_unreadable_image(tmp_path, checkpoint, capsys):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not a jpeg at all')
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(bad),
                        '--out', str(tmp_path / 'out'))
    assert code == 1
    assert f'error: image {bad} could not be decoded' in err


def test_demo_checkpoint_errors(tmp_path, fixtures, capsys):
    code, _, err = _run(capsys, '--image', str(fixtures / IMAGE), '--out', str(tmp_path))
    assert code == 1 and 'error: TEST.MODEL_FILE is empty' in err
    wrong = tmp_path / 'crowdpose_joints.pth'
    torch.save(build_model(load_config(TINY, ['MODEL.NUM_JOINTS', '14'])).state_dict(), wrong)
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', str(wrong), '--image', str(fixtures / IMAGE),
                        '--out', str(tmp_path))
    assert code == 1
    assert f'error: checkpoint {wrong} does not match the model built from the config' in err
    assert 'final_layer.weight: checkpoint (14, ' in err


def test_check_box_clips_partially_outside_boxes():
    assert check_box([-10, 5, 50, 20], 30, 40, 'a.jpg') == \
        ([0.0, 5.0, 30.0, 20.0], ['x1 -10.0 -> 0.0', 'x2 40.0 -> 30.0'])
    assert check_box([1, 2, 3, 4], 30, 40, 'a.jpg') == ([1.0, 2.0, 3.0, 4.0], [])
    # A box ending a fraction of a pixel past the image is clipped without a report (the
    # old exact comparison warned "clipped to" the same rounded box).
    box, changed = check_box([0.1, 0.2, 30.2, 39.9], 30, 40, 'a.jpg')
    assert changed == [] and box == pytest.approx([0.1, 0.2, 29.9, 39.8])
    with pytest.raises(DemoError, match='lies outside image a.jpg'):
        check_box([-60, 5, 50, 20], 30, 40, 'a.jpg')


def test_box_sources(tmp_path, fixtures):
    coco = BoxSource(boxes_file=str(fixtures / 'ochuman' / 'test_ochuman.json'))
    assert len(coco.lookup(['000817.jpg', '000817', 817])) == 2
    assert coco.lookup(['nothing.jpg']) is None
    dets = BoxSource(boxes_file=str(fixtures / 'coco' / 'test_coco_det_AP_H_56.json'),
                     score_thre=0.5)
    raw = json.loads((fixtures / 'coco' / 'test_coco_det_AP_H_56.json').read_text())
    expected = [d for d in raw if d['image_id'] == 785 and d['category_id'] == 1
                and d['score'] >= 0.5]
    found = dets.lookup(['000000000785.jpg', '000000000785', 785])
    assert [b for b, _ in found] == [d['bbox'] for d in expected] and expected
    plain = tmp_path / 'plain.json'
    plain.write_text(json.dumps([{'bbox': [1, 2, 3, 4], 'score': 0.7}]))
    assert BoxSource(boxes_file=str(plain)).lookup(['any.jpg']) == [([1, 2, 3, 4], 0.7)]
    per_image = tmp_path / 'per_image.json'
    per_image.write_text(json.dumps({'a.jpg': [[1, 2, 3, 4]], 'b': [{'bbox': [5, 6, 7, 8]}]}))
    src = BoxSource(boxes_file=str(per_image))
    assert src.lookup(['b.png', 'b']) == [([5, 6, 7, 8], 1.0)]
    with pytest.raises(DemoError, match='needs boxes or a boxes file'):
        BoxSource()
    mixed = tmp_path / 'mixed.json'
    mixed.write_text(json.dumps([{'bbox': [1, 2, 3, 4]}, {'image_id': 1, 'bbox': [1, 2, 3, 4]}]))
    with pytest.raises(DemoError, match='either every record has an image_id'):
        BoxSource(boxes_file=str(mixed))


def _huge_png(path):
    """A valid PNG header claiming 100000 x 100000 pixels (OpenCV refuses it with
    CV_IO_MAX_IMAGE_PIXELS)."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    path.write_bytes(b'\x89PNG\r\n\x1a\n'
                     + chunk(b'IHDR', struct.pack('>IIBBBBB', 100000, 100000, 8, 2, 0, 0, 0))
                     + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b''))


def test_demo_folder_goes_on_past_bad_files(tmp_path, fixtures, checkpoint, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    (folder / 'good.jpg').write_bytes((fixtures / IMAGE).read_bytes())
    (folder / 'broken.jpg').write_bytes(b'not a jpeg at all')
    (folder / 'empty.jpg').write_bytes(b'')
    _huge_png(folder / 'huge.png')
    out = tmp_path / 'out'
    code, stdout, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(folder),
                             '--out', str(out))
    assert code == 1
    assert json.loads((out / 'good.json').read_text()) and (out / 'good.png').is_file()
    assert sorted(p.name for p in out.iterdir()) == ['good.json', 'good.png']
    last = err.strip().splitlines()[-1]
    assert last.startswith('error: 3 input file(s) could not be read and were skipped: ')
    for name in ('broken.jpg could not be decoded', 'empty.jpg is empty', 'huge.png'):
        assert name in last, last


def test_demo_outputs_never_overwrite_inputs(tmp_path, fixtures, checkpoint, capsys):
    folder = tmp_path / 'images'
    folder.mkdir()
    jpg = (fixtures / IMAGE).read_bytes()
    (folder / 'x.jpg').write_bytes(jpg)
    cv2.imwrite(str(folder / 'x.png'), cv2.imread(str(fixtures / IMAGE))[:400, :300])
    png = (folder / 'x.png').read_bytes()
    # Same folder in and out: refused, nothing written.
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(folder),
                        '--out', str(folder))
    assert code == 1 and 'is the input folder' in err.strip().splitlines()[-1]
    assert sorted(p.name for p in folder.iterdir()) == ['x.jpg', 'x.png']
    # --out naming an input file: refused.
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(folder),
                        '--out', str(folder / 'x.jpg'))
    assert code == 1 and f'--out {folder / "x.jpg"} is a file' in err
    # One image whose drawing would replace it.
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(folder / 'x.png'),
                        '--out', str(folder))
    assert code == 1 and f'output {folder / "x.png"} would overwrite the input' in err
    assert (folder / 'x.png').read_bytes() == png and (folder / 'x.jpg').read_bytes() == jpg
    # x.jpg and x.png of one folder keep separate outputs.
    out = tmp_path / 'out'
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(folder),
                        '--out', str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ['x_jpg.json', 'x_jpg.png', 'x_png.json',
                                                     'x_png.png']
    drawn = cv2.imread(str(out / 'x_png.png'))  # the 300x400 image, drawn 512 px wide
    assert drawn.shape[1] == 512 and drawn.shape[0] > 683
    assert json.loads((out / 'x_jpg.json').read_text())[0]['image'] == 'x.jpg'


def test_demo_score_threshold_hides_poses(tmp_path, fixtures, checkpoint, capsys):
    boxes = ['20,20,200,300', '330,600,200,300']  # far apart
    image = cv2.imread(str(fixtures / IMAGE))
    runs = {}
    for thre in ('0', None):
        if thre is None:
            scores = sorted(r['score'] for r in runs['0'][0])
            assert len(scores) == 2 and scores[0] < scores[1]
            thre = str((scores[0] + scores[1]) / 2)
        out = tmp_path / thre
        code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image',
                            str(fixtures / IMAGE), '--boxes', *boxes, '--instances', '0',
                            '--out', str(out), '--score-thre', thre)
        assert code == 0, err
        runs[thre] = (json.loads((out / '000817.json').read_text()),
                      cv2.imread(str(out / '000817.png'))[:image.shape[0]])  # not the legend
    (all_poses, all_drawn), (kept, drawn) = runs['0'], runs[thre]
    low = min(all_poses, key=lambda r: r['score'])
    assert kept == [r for r in all_poses if r is not low and r['score'] >= float(thre)]
    xy = np.round(np.reshape(low['keypoints'], (17, 3))[:, :2]).astype(int)
    xy = xy[(xy >= 0).all(axis=1) & (xy[:, 0] < image.shape[1]) & (xy[:, 1] < image.shape[0])]
    assert len(xy) >= 10
    changed_all = np.abs(all_drawn.astype(int) - image.astype(int)).sum(axis=2) > 30
    changed = np.abs(drawn.astype(int) - image.astype(int)).sum(axis=2) > 30
    assert changed_all[xy[:, 1], xy[:, 0]].all()       # drawn without the threshold
    assert changed[xy[:, 1], xy[:, 0]].mean() < 0.2    # not drawn with it


def test_demo_clipping_report(tmp_path, fixtures, checkpoint, capsys, caplog):
    caplog.set_level(logging.INFO, logger='mipnet.apis.inferencer')
    # 665 x 1000 image: the first box ends 0.2 px past the right edge, the second 35 px.
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--boxes', '465.2,300,200,300', '500,300,200,300',
                        '--out', str(tmp_path / 'out'))
    assert code == 0, err
    clipped = [r.getMessage() for r in caplog.records if 'extends past' in r.getMessage()]
    assert clipped == ['box [500.0, 300.0, 200.0, 300.0] of 000817.jpg extends past the image '
                       '(665x1000): clipped (x2 700.0 -> 665.0)']


def test_demo_detector_options(tmp_path, fixtures, checkpoint, capsys):
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--detector', 'onnx', '--out', str(tmp_path))
    assert code == 1 and 'error: --detector onnx needs --det-model PATH' in err
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--detector', 'onnx', '--det-model', str(tmp_path / 'no.onnx'),
                        '--out', str(tmp_path))
    assert code == 1 and f'error: detector model file not found: {tmp_path / "no.onnx"}' in err
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--detector', 'hog', '--boxes', '1,1,5,5', '--out', str(tmp_path))
    assert code == 1 and 'leave out --detector hog' in err


# --------------------------------------------------------------------------- issue 27
def test_demo_many_boxes_run_in_batches_and_absurd_counts_are_refused(tmp_path, fixtures,
                                                                      checkpoint, capsys):
    """Item 6: 200,000 boxes of a --boxes-file grew memory past 9 GB with no output. Boxes
    now run batch by batch behind a progress bar; an image with more than --max-boxes is one
    error naming the limit."""
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps([[20 + 9 * i, 30 + 11 * i, 150, 250] for i in range(12)]))
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--boxes-file', str(boxes), '--batch-size', '4', '--instances', '0',
                        '--out', str(tmp_path / 'out'))
    assert code == 0, err
    assert 'poses:' in err and '/12 [' in err           # a bar over the 12 boxes
    poses = json.loads((tmp_path / 'out' / '000817.json').read_text())
    assert poses and {p['box_index'] for p in poses} <= set(range(12))
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--boxes-file', str(boxes), '--max-boxes', '10',
                        '--out', str(tmp_path / 'out2'))
    assert code == 1
    assert err.strip().splitlines()[-1].startswith(
        'error: 12 person boxes for image 000817.jpg: more than the 10 one image may have')
    assert not (tmp_path / 'out2' / '000817.json').exists()
    from mipnet.apis.inferencer import MAX_BOXES_PER_IMAGE
    from mipnet.cli.parsers import demo_parser
    assert demo_parser().get_default('max_boxes') == MAX_BOXES_PER_IMAGE


def test_demo_onnx_detector_of_another_input_is_one_error(tmp_path, fixtures, checkpoint,
                                                          capsys):
    """Item 7: a 1-channel detector model gave an onnxruntime traceback."""
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from tests.apis._helpers import onnx_detector_model
    model = onnx_detector_model(tmp_path / 'gray.onnx',
                                {'dets': np.zeros((1, 2, 5), np.float32)},
                                input_shape=(1, 1, 64, 64))
    code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(fixtures / IMAGE),
                        '--detector', 'onnx', '--det-model', model, '--out', str(tmp_path))
    assert code == 1 and 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.startswith('error:')]
    assert lines == [f'error: detector model {model} takes a tensor(float) input of shape '
                     '[1, 1, 64, 64]; this detector feeds a float32 (1, 3, H, W) BGR image: '
                     'use a 3-channel person detector export']


def test_demo_folder_says_which_videos_it_skips(tmp_path, fixtures, checkpoint, capsys,
                                                caplog):
    """Item 11: a folder given to the demo ignored its videos silently."""
    folder = tmp_path / 'in'
    folder.mkdir()
    (folder / 'a.jpg').write_bytes((fixtures / IMAGE).read_bytes())
    write_random_video(folder / 'walk.mp4', frames=2)
    with caplog.at_level(logging.WARNING, logger='mipnet.apis'):
        code, _, err = _run(capsys, 'TEST.MODEL_FILE', checkpoint, '--image', str(folder),
                            '--out', str(tmp_path / 'out'))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['a.json', 'a.png']
    warnings = [r.getMessage() for r in caplog.records if 'video' in r.getMessage()]
    assert warnings == [f'folder {folder}: 1 video(s) not read (walk.mp4); a folder input '
                        'reads its images only, give each video as an input of its own']
