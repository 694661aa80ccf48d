"""tools/zoo.py (mipnet-zoo): list, download, convert."""
import os

import torch

from mipnet import zoo
from mipnet.cli.zoo import main
from tests.zoo.conftest import mmpose_name, register, tiny_mmpose_file


def test_list_shows_names_sizes_configs_and_the_cache(monkeypatch, server, zoo_home, capsys):
    data, _ = tiny_mmpose_file('0.x')
    name = mmpose_name(data, stem='hrnet_tiny_crowdpose_64x64', date='20201227')
    server.files[name] = data
    register(monkeypatch, name='tiny', filename=name, url=server.url(name), layout='mmpose-0.x',
             sha256_prefix=name.split('-')[-1][:8], approx_mb=2,
             configs=('experiments/synthetic/tiny_hrnet.yaml',))
    assert main(['list']) == 0
    out = capsys.readouterr().out
    assert f'model zoo cache: {zoo_home}' in out
    assert 'tiny  [pose, ~2 MB, download on first use]' in out
    assert 'configs: experiments/synthetic/tiny_hrnet.yaml' in out
    assert 'yolox-m  [detector, ~101 MB, download on first use]' in out
    assert 'hrnet-w48-coco-384x288  [pose, ~254 MB, manual download]' in out
    assert f'save it as {zoo_home}/checkpoints/pose_hrnet_w48_384x288.pth' in out
    assert 'SHA-256 starts with c161b7de' in out

    assert main(['download', 'tiny']) == 0
    path = capsys.readouterr().out.strip()
    assert path == f'tiny: {zoo.local_file(zoo.ENTRIES["tiny"])}'
    assert main(['list', '--kind', 'pose']) == 0
    out = capsys.readouterr().out
    size = os.path.getsize(zoo.local_file(zoo.ENTRIES['tiny'])) / 1e6
    assert f'tiny  [pose, {size:.1f} MB, cached]' in out
    assert 'yolox-m' not in out


def test_download_and_convert_errors(tmp_path, capsys):
    assert main(['download', 'hrnet-w32-coco-256x192']) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: hrnet-w32-coco-256x192 (pose_hrnet_w32_256x192.pth) has no '
                          'plain download') and err.count('\n') == 1
    torch.save({'conv1.weight': torch.zeros(1)}, tmp_path / 'port.pth')
    assert main(['convert', str(tmp_path / 'port.pth'), str(tmp_path / 'out.pth')]) == 1
    assert 'is not an mmpose checkpoint' in capsys.readouterr().err


def test_convert_a_local_mmpose_file(tmp_path, capsys):
    data, state = tiny_mmpose_file('1.x')
    (tmp_path / 'mm.pth').write_bytes(data)
    assert main(['convert', str(tmp_path / 'mm.pth'), str(tmp_path / 'port.pth')]) == 0
    assert capsys.readouterr().out.strip() == \
        f'{tmp_path / "port.pth"}: {len(state)} tensors converted from the mmpose-1.x layout'
    converted = torch.load(tmp_path / 'port.pth', weights_only=True)
    assert torch.equal(converted['conv1.weight'], state['backbone.conv1.weight'])
