"""The zoo cache against a local HTTP server: download, digest check, cache hit, damaged
files downloaded again, wrong digests refused, offline errors, two processes at once."""
import multiprocessing
import os
import socket

import pytest
import torch

from mipnet import zoo
from mipnet.zoo import cache
from tests.conftest import REPO
from tests.zoo.conftest import (mmpose_name, register, rtmlib_zip, saved, sha256,
                                tiny_mmpose_file)


def _mmpose_entry(monkeypatch, server, version='1.x'):
    data, state = tiny_mmpose_file(version)
    name = mmpose_name(data)
    server.files[name] = data
    entry = register(monkeypatch, filename=name, url=server.url(name),
                     layout=f'mmpose-{version}', sha256_prefix=name.split('-')[-1][:8])
    return entry, data, state


def _plain_entry(monkeypatch, server, data=None, name='plain_weights.pth'):
    data = saved({'w': torch.arange(6.0)}, legacy=False) if data is None else data
    server.files[name] = data
    return register(monkeypatch, filename=name, url=server.url(name)), data


def test_download_verifies_converts_and_hits_the_cache(monkeypatch, server, zoo_home, capsys):
    entry, data, state = _mmpose_entry(monkeypatch, server)
    path = zoo.resolve(entry.name)
    assert path == str(zoo_home / 'converted' / (entry.filename[:-4] + '.pth'))
    assert (zoo_home / 'checkpoints' / entry.filename).read_bytes() == data
    converted = torch.load(path, weights_only=True)
    assert set(converted) == {k[len('backbone.'):] for k in state if k.startswith('backbone.')} \
        | {'final_layer.weight', 'final_layer.bias'}
    assert torch.equal(converted['final_layer.weight'], state['head.final_layer.weight'])
    assert torch.equal(converted['stage4.0.fuse_layers.0.3.0.weight'],
                       state['backbone.stage4.0.fuse_layers.0.3.0.weight'])
    # The progress bar names the file and reaches 100 %.
    err = capsys.readouterr().err
    assert entry.filename in err and '100%' in err
    # Second use: from the cache, no request; the published name also works.
    assert zoo.resolve('zoo:' + entry.filename) == path
    assert server.hits[entry.filename] == 1
    assert zoo.is_cached(entry)


def test_published_digest_prefix_is_checked(monkeypatch, server, zoo_home):
    data, _ = tiny_mmpose_file()
    name = 'td-hm_hrnet-tiny_8xb64-210e_coco-64x64-deadbeef_20220909.pth'
    assert not sha256(data).startswith('deadbeef')
    server.files[name] = data
    entry = register(monkeypatch, filename=name, url=server.url(name), layout='mmpose-1.x',
                     sha256_prefix='deadbeef')
    with pytest.raises(zoo.ZooError, match=r'refused: its SHA-256 [0-9a-f]{64} does not '
                                           r'start with deadbeef') as info:
        zoo.resolve(entry.name)
    assert server.url(name) in str(info.value)
    # Nothing kept: no file under its name, no partial file, no conversion.
    assert os.listdir(zoo_home / 'checkpoints') == []
    assert not (zoo_home / 'converted').exists()


def test_damaged_cached_file_is_downloaded_again(monkeypatch, server, zoo_home, caplog):
    entry, data = _plain_entry(monkeypatch, server)
    path = zoo.resolve(entry.name)
    with open(path, 'r+b') as f:     # one flipped byte
        f.seek(len(data) // 2)
        byte = f.read(1)
        f.seek(len(data) // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert zoo.resolve(entry.name) == path
    assert open(path, 'rb').read() == data
    assert server.hits[entry.filename] == 2
    assert 'fails its check' in caplog.text and 'downloading it again' in caplog.text


def test_damaged_conversion_is_redone_from_the_verified_download(monkeypatch, server):
    entry, data, _ = _mmpose_entry(monkeypatch, server, version='0.x')
    path = zoo.resolve(entry.name)
    good = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(good[:100])
    assert zoo.resolve(entry.name) == path and open(path, 'rb').read() == good
    assert server.hits[entry.filename] == 1
    # A damaged download under the conversion is fetched again.
    raw = cache.raw_path(entry)
    with open(raw, 'wb') as f:
        f.write(data[:-10])
    os.unlink(path)
    zoo.resolve(entry.name)
    assert server.hits[entry.filename] == 2 and open(raw, 'rb').read() == data


def test_digest_is_recorded_at_first_download_and_checked_after(monkeypatch, server, zoo_home):
    entry, data = _plain_entry(monkeypatch, server)
    path = zoo.resolve(entry.name)
    record = zoo_home / 'digests' / (entry.filename + '.sha256')
    assert record.read_text().split()[0] == sha256(data)
    # The server now serves other bytes: the cached file is still right and is used.
    server.files[entry.filename] = saved({'w': torch.zeros(6)}, legacy=False)
    assert zoo.resolve(entry.name) == path
    # Once the cached file is gone, the changed file on the server is refused.
    os.unlink(path)
    with pytest.raises(zoo.ZooError, match='differs from .* recorded at its first download'):
        zoo.resolve(entry.name)
    assert not os.path.exists(path)


def _closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_offline_gives_one_error_with_the_url_and_the_place(monkeypatch, zoo_home):
    url = f'http://127.0.0.1:{_closed_port()}/hrnet_w32-36af842e.pth'
    entry = register(monkeypatch, filename='hrnet_w32-36af842e.pth', url=url, kind='imagenet')
    with pytest.raises(zoo.ZooError) as info:
        zoo.resolve(entry.name)
    message = str(info.value)
    place = str(zoo_home / 'checkpoints' / 'hrnet_w32-36af842e.pth')
    assert f'cannot download {entry.name} from {url}' in message and 'offline?' in message
    assert f'download {url} by hand and put it at {place}' in message
    assert '\n' not in message
    # Put there by hand, the file is used (and its digest recorded).
    os.makedirs(os.path.dirname(place), exist_ok=True)
    torch.save({'w': torch.ones(2)}, place)
    assert zoo.resolve(entry.name) == place
    assert (zoo_home / 'digests' / 'hrnet_w32-36af842e.pth.sha256').is_file()


def test_http_error_and_cut_download_keep_nothing(monkeypatch, server, zoo_home):
    entry = register(monkeypatch, filename='missing.pth', url=server.url('missing.pth'))
    with pytest.raises(zoo.ZooError, match='HTTP Error 404|Not Found'):
        zoo.resolve(entry.name)
    entry, data = _plain_entry(monkeypatch, server, name='cut.pth')
    server.truncate.add('cut.pth')
    with pytest.raises(zoo.ZooError, match=r'cannot download .*cut\.pth'):
        zoo.resolve(entry.name)
    assert os.listdir(zoo_home / 'checkpoints') == []


def test_manual_file_error_names_the_source_and_the_place(monkeypatch, zoo_home):
    entry = zoo.get_entry('hrnet-w48-coco-384x288')
    assert entry.url == '' and entry.filename == 'pose_hrnet_w48_384x288.pth'
    with pytest.raises(zoo.ZooError) as info:
        zoo.local_path('zoo:hrnet-w48-coco-384x288', kind='pose')
    message = str(info.value)
    assert 'has no plain download' in message and 'drive.google.com' in message
    assert str(zoo_home / 'checkpoints' / 'pose_hrnet_w48_384x288.pth') in message


def test_mirror_serves_the_published_names(monkeypatch, server):
    data = saved({'w': torch.ones(3)}, legacy=False)
    server.files['hrnet_w48-8ef0771d.pth'] = data
    monkeypatch.setenv('MIPNET_ZOO_MIRROR', server.url(''))
    path = zoo.local_path('zoo:hrnet-w48-imagenet', kind='imagenet', progress=False)
    assert open(path, 'rb').read() == data and server.hits['hrnet_w48-8ef0771d.pth'] == 1


def test_detector_zip_is_unpacked_and_checked(monkeypatch, server, zoo_home):
    model = b'\x08\x07fake onnx model bytes' * 100
    name = 'yolox_tiny_8xb8-300e_humanart-6f3252f9.zip'
    server.files[name] = rtmlib_zip(model)
    register(monkeypatch, name='yolox-test', kind='detector', filename=name,
                     url=server.url(name), layout='rtmlib-zip')
    path = zoo.resolve('yolox-test')
    assert path == str(zoo_home / 'checkpoints' / 'yolox_tiny_8xb8-300e_humanart-6f3252f9.onnx')
    assert open(path, 'rb').read() == model
    with open(path, 'ab') as f:
        f.write(b'x')
    assert open(zoo.resolve('yolox-test'), 'rb').read() == model   # unpacked again
    assert server.hits[name] == 1
    server.files['bad.zip'] = b'not a zip'
    register(monkeypatch, name='bad', kind='detector', filename='bad.zip',
             url=server.url('bad.zip'), layout='rtmlib-zip')
    with pytest.raises(zoo.ZooError, match='not a valid zip file'):
        zoo.resolve('bad')


def test_names_kinds_and_unknown_names(monkeypatch, server):
    with pytest.raises(zoo.ZooError, match="unknown zoo name 'nope'; known: .*yolox-m"):
        zoo.local_path('zoo:nope')
    with pytest.raises(zoo.ZooError, match='is a detector file .* not pose weights'):
        zoo.local_path('zoo:yolox-m', kind='pose')
    assert zoo.local_path('plain/path.pth', kind='pose') == 'plain/path.pth'
    assert zoo.detector_names() == [f'yolox-{s}' for s in ('nano', 'tiny', 's', 'm', 'l', 'x')]


def test_shipped_entries_name_their_files_the_published_way():
    for entry in zoo.ENTRIES.values():
        if entry.sha256_prefix:
            assert f'-{entry.sha256_prefix}' in entry.filename and \
                entry.url.endswith('/' + entry.filename), entry
        if entry.url:
            assert entry.url.startswith('https://download.openmmlab.com/'), entry
        for config in entry.configs:
            if '*' not in config:
                assert (REPO / config).is_file(), config
    assert zoo.get_entry('td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth') \
        is zoo.ENTRIES['mmpose-hrnet-w48-coco-384x288']


def _resolve_when_told(entry, ready, go, results):
    ready.set()
    go.wait(60)
    try:
        results.put(cache.resolve_entry(entry, progress=False))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f'error: {exc}')


def test_two_processes_download_once_and_both_get_the_file(monkeypatch, server):
    # Forked processes (not threads: the lock is between processes, as between the ranks of
    # a torchrun job), both started on the same signal while the slow download runs.
    entry, data = _plain_entry(monkeypatch, server, data=os.urandom(400 * 1024))
    server.chunk_delay = 0.01      # 100 chunks: about a second per download
    ctx = multiprocessing.get_context('fork')
    go, results = ctx.Event(), ctx.Queue()
    ready = [ctx.Event() for _ in range(2)]
    procs = [ctx.Process(target=_resolve_when_told, args=(entry, r, go, results))
             for r in ready]
    for p in procs:
        p.start()
    assert all(r.wait(60) for r in ready)
    go.set()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert got == [cache.raw_path(entry)] * 2
    assert open(cache.raw_path(entry), 'rb').read() == data
    assert server.hits[entry.filename] == 1
    assert os.listdir(os.path.dirname(cache.raw_path(entry))) == [entry.filename]
