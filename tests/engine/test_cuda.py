"""CUDA-only checks of the training engine (marker ``cuda``; skipped with a reason on CPU):
float16 AMP stays finite, a one-GPU NCCL DDP step equals the plain step, batched targets on
the GPU equal the CPU ones."""
import math
import socket

import pytest
import torch
from torch.utils.data import DataLoader

from mipnet.config import load_config
from mipnet.data import BatchMaker, build_dataset
from mipnet.cli.train_test import train_main
from mipnet.engine.train import compute_loss
from mipnet.losses import build_criterion
from mipnet.models import build_model
from tests.engine.conftest import TINY, tiny_opts

pytestmark = pytest.mark.cuda


def test_amp_float16_training_stays_finite_for_50_steps(synthetic_root, tmp_path):
    opts = tiny_opts(synthetic_root, tmp_path, 'DEVICE', 'cuda', 'TRAIN.AMP', 'True',
                     'TRAIN.END_EPOCH', '30', 'PRINT_FREQ', '10', 'WORKERS', '2',
                     'MODEL.CHANNELS_LAST', 'True')
    summary = train_main(['--max_steps', '50', '--cfg', TINY, *opts])
    log = open(summary['log_file']).read()
    assert 'Performance mode: 50 steps' in log
    assert 'non-finite' not in log
    assert summary['epoch_losses'] and all(math.isfinite(v) for v in summary['epoch_losses'])
    assert summary['steady_samples_per_s'] > 0


def test_batch_maker_on_gpu_equals_cpu(synthetic_root):
    cfg = load_config(TINY, ['DATASET.ROOT', str(synthetic_root),
                             'LOSS.USE_DIFFERENT_JOINTS_WEIGHT', 'True'])
    ds = build_dataset(cfg, True, device_targets=True)
    batch = next(iter(DataLoader(ds, batch_size=8, pin_memory=True)))
    cpu = BatchMaker.for_dataset(ds)(batch)
    gpu = BatchMaker.for_dataset(ds, 'cuda', channels_last=True)(batch)
    assert gpu[0].is_cuda and gpu[0].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(cpu[:3], gpu[:3]):
        assert torch.equal(a, b.cpu())


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_nccl_one_gpu_step_equals_plain_step(synthetic_root):
    """Three Adam steps through DistributedDataParallel over NCCL (world size 1) leave the
    same weights as three plain steps from the same start."""
    cfg = load_config(TINY, ['DATASET.ROOT', str(synthetic_root)])
    ds = build_dataset(cfg, True, device_targets=True)
    maker = BatchMaker.for_dataset(ds, 'cuda')
    torch.manual_seed(0)
    batches = [maker(b) for _, b in zip(range(3), DataLoader(ds, batch_size=4))]
    criterion = build_criterion(cfg)
    torch.manual_seed(0)
    start = build_model(cfg, is_train=True).cuda()
    results = []
    torch.distributed.init_process_group('nccl', init_method=f'tcp://127.0.0.1:{_free_port()}',
                                         rank=0, world_size=1)
    try:
        for wrap in (False, True):
            net = build_model(cfg, is_train=True).cuda()
            net.load_state_dict(start.state_dict())
            model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[0]) if wrap \
                else net
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            for images, target, weight, _ in batches:
                loss, _ = compute_loss(cfg, model, criterion, images, target, weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            results.append(net.state_dict())
    finally:
        torch.distributed.destroy_process_group()
    changed = False
    for key, value in results[0].items():
        torch.testing.assert_close(results[1][key], value, rtol=1e-4, atol=1e-5)
        changed |= not torch.equal(value, start.state_dict()[key])
    assert changed
