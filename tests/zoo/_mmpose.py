"""Checkpoints in mmpose's layout, built from mmpose's naming rules rather than from this
port's modules, so that a conversion test is not this port checked against itself.

The rules, read from mmpose's source (``mmpose/models/backbones/hrnet.py``,
``mmpose/models/backbones/resnet.py``, ``mmpose/models/heads/heatmap_heads/heatmap_head.py``,
and 0.x's ``topdown_heatmap_simple_head.py``):

* stem: ``conv1`` (64, 3, 3, 3) and norm ``bn1`` (mmcv's ``build_norm_layer`` names a
  BatchNorm ``bn`` + postfix), ``conv2`` (64, 64, 3, 3), ``bn2``;
* ``layer1``: 4 Bottlenecks 64 -> 256 (mid 64): ``conv1`` 1x1, ``bn1``, ``conv2`` 3x3,
  ``bn2``, ``conv3`` 1x1, ``bn3``; block 0 has ``downsample.0`` (conv 1x1) and
  ``downsample.1`` (norm);
* ``transition<k>``: for branch i < previous branches with another width, ``i.0`` conv 3x3
  and ``i.1`` norm; for a new branch, ``i.0.0`` conv 3x3 stride 2 from the last branch and
  ``i.0.1`` norm; nothing for a branch of the same width;
* ``stage<k>.<module>.branches.<b>.<block>``: BasicBlocks ``conv1``, ``bn1``, ``conv2``,
  ``bn2``;
* ``stage<k>.<module>.fuse_layers.<i>.<j>``: j > i: ``0`` conv 1x1 (C_j -> C_i), ``1``
  norm; j < i: ``<n>.0`` conv 3x3 stride 2 and ``<n>.1`` norm for n < i - j, the last
  one to C_i; only row 0 in the last module of stage 4 (``multiscale_output=False``);
* head: 1.x ``head.final_layer`` (J, C_0, 1, 1) + bias; 0.x ``keypoint_head.final_layer``.

A BatchNorm has ``weight``, ``bias``, ``running_mean``, ``running_var`` and
``num_batches_tracked``; all of it is under ``backbone.``.
"""
import collections

import numpy as np
import torch


def _conv(keys, name, out_c, in_c, k):
    keys[f'{name}.weight'] = (out_c, in_c, k, k)


def _norm(keys, name, c):
    for part in ('weight', 'bias', 'running_mean', 'running_var'):
        keys[f'{name}.{part}'] = (c,)
    keys[f'{name}.num_batches_tracked'] = ()


def mmpose_hrnet_shapes(extra, num_joints, version='1.x'):
    """{mmpose key: shape} of a top-down HRNet with a one-convolution heatmap head.

    Args:
        extra: this port's ``MODEL.EXTRA`` (STAGE2..4 with NUM_MODULES, NUM_BRANCHES,
            NUM_BLOCKS, NUM_CHANNELS; BASIC blocks).
        num_joints: heatmap channels.
        version: '1.x' (``head.``) or '0.x' (``keypoint_head.``).
    """
    keys = collections.OrderedDict()
    _conv(keys, 'conv1', 64, 3, 3)
    _norm(keys, 'bn1', 64)
    _conv(keys, 'conv2', 64, 64, 3)
    _norm(keys, 'bn2', 64)
    in_c = 64
    for b in range(4):
        p = f'layer1.{b}'
        _conv(keys, f'{p}.conv1', 64, in_c, 1)
        _norm(keys, f'{p}.bn1', 64)
        _conv(keys, f'{p}.conv2', 64, 64, 3)
        _norm(keys, f'{p}.bn2', 64)
        _conv(keys, f'{p}.conv3', 256, 64, 1)
        _norm(keys, f'{p}.bn3', 256)
        if b == 0:
            _conv(keys, f'{p}.downsample.0', 256, in_c, 1)
            _norm(keys, f'{p}.downsample.1', 256)
        in_c = 256
    pre = [256]
    for k, stage in ((1, 'STAGE2'), (2, 'STAGE3'), (3, 'STAGE4')):
        cfg = extra[stage]
        assert cfg['BLOCK'] == 'BASIC'
        channels = list(cfg['NUM_CHANNELS'])
        for i, c in enumerate(channels):
            if i < len(pre):
                if c != pre[i]:
                    _conv(keys, f'transition{k}.{i}.0', c, pre[i], 3)
                    _norm(keys, f'transition{k}.{i}.1', c)
            else:
                for n in range(i + 1 - len(pre)):
                    out_c = c if n == i - len(pre) else pre[-1]
                    _conv(keys, f'transition{k}.{i}.{n}.0', out_c, pre[-1], 3)
                    _norm(keys, f'transition{k}.{i}.{n}.1', out_c)
        for m in range(cfg['NUM_MODULES']):
            p = f'stage{k + 1}.{m}'
            for b, c in enumerate(channels):
                for blk in range(cfg['NUM_BLOCKS'][b]):
                    q = f'{p}.branches.{b}.{blk}'
                    _conv(keys, f'{q}.conv1', c, c, 3)
                    _norm(keys, f'{q}.bn1', c)
                    _conv(keys, f'{q}.conv2', c, c, 3)
                    _norm(keys, f'{q}.bn2', c)
            last_of_stage4 = stage == 'STAGE4' and m == cfg['NUM_MODULES'] - 1
            rows = 1 if last_of_stage4 else len(channels)
            for i in range(rows if len(channels) > 1 else 0):
                for j in range(len(channels)):
                    q = f'{p}.fuse_layers.{i}.{j}'
                    if j > i:
                        _conv(keys, f'{q}.0', channels[i], channels[j], 1)
                        _norm(keys, f'{q}.1', channels[i])
                    elif j < i:
                        for n in range(i - j):
                            out_c = channels[i] if n == i - j - 1 else channels[j]
                            _conv(keys, f'{q}.{n}.0', out_c, channels[j], 3)
                            _norm(keys, f'{q}.{n}.1', out_c)
        pre = channels
    out = collections.OrderedDict(('backbone.' + k, v) for k, v in keys.items())
    head = 'head' if version == '1.x' else 'keypoint_head'
    out[f'{head}.final_layer.weight'] = (num_joints, pre[0], 1, 1)
    out[f'{head}.final_layer.bias'] = (num_joints,)
    return out


def mmpose_state_dict(extra, num_joints, version='1.x', seed=0):
    """Random tensors of :func:`mmpose_hrnet_shapes` (BN counters as int64 scalars)."""
    gen = torch.Generator().manual_seed(seed)
    state = collections.OrderedDict()
    for key, shape in mmpose_hrnet_shapes(extra, num_joints, version).items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(7, dtype=torch.int64)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.1
    return state


def mmpose_checkpoint(state, version='1.x'):
    """The file content mmpose publishes: ``{'meta', 'state_dict'}``; 1.x's meta carries the
    dataset's metainfo with numpy arrays (as mmengine's runner saves it)."""
    meta = {'epoch': 210, 'iter': 1000, 'mmengine_version': '0.1.0', 'time': '20220915'}
    if version == '1.x':
        meta['dataset_meta'] = {'dataset_name': 'coco', 'num_keypoints': 17,
                                'sigmas': np.linspace(0.025, 0.107, 17).astype(np.float32),
                                'flip_indices': [0, 2, 1]}
    return {'meta': meta, 'state_dict': state}
