"""tools/demo.py on a camera (``--image 0``) or a stream URL: frames read through OpenCV's
VideoCapture one by one, each written as it comes. The stream is a generated video served
by a local HTTP server on 127.0.0.1 (an http:// stream as OpenCV opens any other); the
camera is that video behind a VideoCapture that records how it was opened."""
import functools
import http.server
import json
import threading

import cv2
import pytest

from mipnet.apis.inferencer import is_stream, stream_name
from mipnet.cli.demo import main
from tests.apis._helpers import save_tiny_random_checkpoint, write_random_video
from tests.conftest import REPO

TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
REAL_CAPTURE = cv2.VideoCapture


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_random_checkpoint(tmp_path_factory.mktemp('stream_ckpt') / 'tiny.pth')


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return write_random_video(tmp_path_factory.mktemp('stream_video') / 'clip.mp4', frames=4)


@pytest.fixture
def http_video(video, monkeypatch):
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(video.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}/clip.mp4'
    server.shutdown()
    server.server_close()


def _demo(capsys, checkpoint, *args):
    code = main(['--cfg', TINY, 'TEST.MODEL_FILE', checkpoint, '--boxes', '10,10,60,60',
                 *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _frames(path):
    cap = REAL_CAPTURE(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


def test_stream_url_frame_by_frame_equals_the_video_file(http_video, video, checkpoint, tmp_path,
                                                        capsys):
    code, out, err = _demo(capsys, checkpoint, '--image', http_video, '--out',
                           str(tmp_path / 'stream'))
    assert code == 0, err
    lines = [json.loads(line) for line in
             (tmp_path / 'stream' / 'clip.jsonl').read_text().splitlines()]
    assert [line['frame'] for line in lines] == [0, 1, 2, 3]
    assert _frames(tmp_path / 'stream' / 'clip.mp4') == 4
    assert 'clip.jsonl: ' in out and 'clip.mp4: 4 frames' in out
    # The same poses as the video file read as a file.
    code, _, err = _demo(capsys, checkpoint, '--image', str(video), '--out',
                         str(tmp_path / 'file'))
    assert code == 0, err
    from_file = json.loads((tmp_path / 'file' / 'clip.json').read_text())
    for line in lines:     # 'image' is the stream's name, 'clip', not the file's
        assert [dict(p, image='clip.mp4') for p in line['poses']] == \
            [p for p in from_file if p['frame'] == line['frame']]
    code, _, _ = _demo(capsys, checkpoint, '--image', http_video, '--out',
                       str(tmp_path / 'two'), '--max-frames', '2')
    assert code == 0 and len((tmp_path / 'two' / 'clip.jsonl').read_text().splitlines()) == 2


class _Camera:
    """VideoCapture of camera ``index`` that plays ``video``; before each frame it checks that
    every earlier frame is already written, and it can raise Ctrl-C at frame ``stop_at``."""
    opened = []

    def __init__(self, source, video, lines, stop_at=None):
        self.opened.append(source)
        self.cap = REAL_CAPTURE(str(video)) if source == 0 else None
        self.lines, self.stop_at, self.reads = lines, stop_at, 0

    def isOpened(self):  # noqa: N802 - OpenCV's name
        return self.cap is not None

    def get(self, prop):
        return self.cap.get(prop)

    def read(self):
        if self.reads:
            written = self.lines.read_text().splitlines()
            assert len(written) == self.reads, 'a frame was read before the last was written'
        if self.reads == self.stop_at:
            raise KeyboardInterrupt
        self.reads += 1
        return self.cap.read()

    def release(self):
        self.cap.release()


def test_camera_index_writes_each_frame_before_reading_the_next(video, checkpoint, tmp_path,
                                                                capsys, monkeypatch):
    lines = tmp_path / 'cam' / 'camera0.jsonl'
    _Camera.opened = []
    monkeypatch.setattr(cv2, 'VideoCapture', lambda source: _Camera(source, video, lines))
    code, out, err = _demo(capsys, checkpoint, '--image', '0', '--out', str(tmp_path / 'cam'),
                           '--batch-size', '64')
    assert code == 0, err
    assert _Camera.opened == [0]                       # the camera index, as an int
    assert len(lines.read_text().splitlines()) == 4
    assert 'camera0.mp4: 4 frames' in out


def test_ctrl_c_keeps_what_was_written(video, checkpoint, tmp_path, capsys, monkeypatch):
    lines = tmp_path / 'cam' / 'camera0.jsonl'
    monkeypatch.setattr(cv2, 'VideoCapture',
                        lambda source: _Camera(source, video, lines, stop_at=3))
    code, out, err = _demo(capsys, checkpoint, '--image', '0', '--out', str(tmp_path / 'cam'))
    assert code == 0, err
    assert [json.loads(line)['frame'] for line in lines.read_text().splitlines()] == [0, 1, 2]
    assert _frames(tmp_path / 'cam' / 'camera0.mp4') == 3


def test_unavailable_camera_and_unreachable_stream(checkpoint, video, tmp_path, capsys,
                                                   monkeypatch):
    code, _, err = _demo(capsys, checkpoint, '--image', 'http://127.0.0.1:1/live/cam1',
                         '--out', str(tmp_path / 'x'))
    assert code == 1
    assert err == ('error: stream http://127.0.0.1:1/live/cam1 could not be opened '
                   '(unreachable, or not a video stream OpenCV can read)\n')
    monkeypatch.setattr(cv2, 'VideoCapture', lambda source: _Camera(source, video, None))
    code, _, err = _demo(capsys, checkpoint, '--image', '3', '--out', str(tmp_path / 'y'))
    assert code == 1 and err == ('error: camera 3 could not be opened (no camera with that '
                                 'index, or it is in use)\n')


def test_stream_names():
    assert is_stream(0) and is_stream('2') and is_stream('rtsp://h/live') and \
        is_stream('HTTP://h/x.mp4')
    assert not is_stream(True) and not is_stream('clip.mp4') and not is_stream('0.jpg')
    assert stream_name('0') == 'camera0' and stream_name(1) == 'camera1'
    assert stream_name('rtsp://user:pw@host:554/live/cam 1?x=2') == 'cam_1'
    assert stream_name('http://host:8080/') == 'stream'
