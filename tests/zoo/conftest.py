"""A local HTTP server on 127.0.0.1 that serves generated files by name (no test of the zoo
touches the internet), a private ``MIPNET_HOME``, and zoo entries for generated files named
the way mmpose and rtmlib name theirs."""
import collections
import hashlib
import http.server
import io
import threading
import time
import zipfile

import pytest
import torch

from mipnet import zoo
from mipnet.config import load_config
from tests.conftest import REPO
from tests.zoo._mmpose import mmpose_checkpoint, mmpose_state_dict

TINY_HRNET = str(REPO / 'experiments' / 'synthetic' / 'tiny_hrnet.yaml')


class FileServer:
    """Serves ``files`` (name -> bytes) at ``url(name)``; counts the GETs per name.

    ``chunk_delay`` slows every 4 KiB by that many seconds (concurrency tests); a name in
    ``truncate`` is sent with its full Content-Length but only half of its bytes.
    """

    def __init__(self):
        self.files = {}
        self.hits = collections.Counter()
        self.chunk_delay = 0.0
        self.truncate = set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                name = self.path.lstrip('/')
                server.hits[name] += 1
                if name not in server.files:
                    self.send_error(404)
                    return
                data = server.files[name]
                self.send_response(200)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                if name in server.truncate:
                    data = data[:len(data) // 2]
                for start in range(0, len(data), 4096):
                    self.wfile.write(data[start:start + 4096])
                    if server.chunk_delay:
                        time.sleep(server.chunk_delay)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f'http://127.0.0.1:{self.httpd.server_address[1]}/{name}'

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FileServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def zoo_home(tmp_path, monkeypatch):
    """A fresh cache per test; no mirror; no proxy for 127.0.0.1."""
    home = tmp_path / 'mipnet_home'
    monkeypatch.setenv('MIPNET_HOME', str(home))
    monkeypatch.delenv('MIPNET_ZOO_MIRROR', raising=False)
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')
    monkeypatch.setenv('no_proxy', '127.0.0.1,localhost')
    return home


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def saved(obj, legacy=True):
    """Bytes of ``torch.save(obj)``; mmpose publishes the legacy (non-zip) format."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def tiny_mmpose_file(version='1.x', seed=0, cfg_file=TINY_HRNET):
    """(bytes of an mmpose checkpoint of the tiny HRNet config, its port-layout source
    state dict)."""
    cfg = load_config(cfg_file)
    state = mmpose_state_dict(cfg.MODEL.EXTRA, cfg.MODEL.NUM_JOINTS, version, seed=seed)
    return saved(mmpose_checkpoint(state, version)), state


def mmpose_name(data, stem='td-hm_hrnet-tiny_8xb64-210e_coco-64x64', date='20220909'):
    """The name mmpose's publish_model.py gives a file: ``<stem>-<sha256[:8]>_<date>.pth``."""
    return f'{stem}-{sha256(data)[:8]}_{date}.pth'


def register(monkeypatch, **fields):
    """Add a ZooEntry (kind pose, layout hrnet unless given) to the registry for one test."""
    fields.setdefault('kind', 'pose')
    fields.setdefault('layout', 'hrnet')
    fields.setdefault('name', fields['filename'].rsplit('.', 1)[0])
    entry = zoo.ZooEntry(**fields)
    monkeypatch.setitem(zoo.ENTRIES, entry.name, entry)
    return entry


def rtmlib_zip(onnx_bytes, folder='yolox_tiny_export'):
    """A zip laid out as rtmlib's detector downloads: an mmdeploy SDK folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as archive:
        archive.writestr(f'{folder}/deploy.json', '{"version": "1.0.0"}')
        archive.writestr(f'{folder}/pipeline.json', '{}')
        archive.writestr(f'{folder}/end2end.onnx', onnx_bytes)
    return buf.getvalue()
