"""Model throughput benchmark: shared-trunk vs reference-style multi-instance execution.

Everything is measured side by side in one run on the same machine:

* the machine's matmul GFLOP/s (same dtype), the yardstick for achieved GFLOP/s;
* training step throughput (boxes/s) of MIPNet with all N instances per box: the shared
  trunk (``MODEL.SHARED_TRUNK True``) vs the reference duplication of the image batch;
* inference throughput for N = 1, 2, 4 instances, with and without flip test, as the cost of
  N instances relative to one instance (the reference way costs N x);
* training throughput vs batch size (plotted with ``--plot``);
* with ``--blocks``: the plain (one-instance, λ-free) forward with the in-place residual adds
  of ``BasicBlock``/``Bottleneck``/fusion against the same weights run with out-of-place
  adds (``relu(out + residual)``, the blocks before issue 21), plus the two-instance
  shared-trunk forward, all interleaved;
* with ``--fast-paths``: the two-instance inference forward (shared trunk) of the eager
  model against each fast path (``TEST.FUSE_BN``, ``TEST.CHANNELS_LAST``, both,
  ``TEST.COMPILE``, ONNX Runtime), interleaved, with compile / export times and each
  path's largest heatmap difference from eager relative to the heatmap maximum;
* with ``--train-compile``: one training step eager against ``TRAIN.COMPILE``
  (``torch.compile`` of the training model), interleaved, with the compile time;
* with ``--inferencer N``: ``PoseInferencer`` end to end (JPEG decode, crops, model,
  post-processing) on N synthetic images, with today's eager path, the shipped defaults
  and the ONNX Runtime backend, interleaved, with the largest pose differences.

Usage::

    python benchmarks/benchmark_model.py --configs w48_384x288 w32_256x192 --device cpu
    python benchmarks/benchmark_model.py --quick        # tiny config, seconds
    python benchmarks/benchmark_model.py --configs w48_384x288 --blocks --blocks-only \
        --infer-batch 8 --repeat 5
    python benchmarks/benchmark_model.py --threads 1 --cpu-clock --configs w32_256x192 \
        --fast-paths --train-compile --inferencer 100 --only-new --infer-batch 8
"""
import argparse
import copy
import os
import platform
import tempfile
import time
import types
from pathlib import Path

import torch

from mipnet.config import load_config
from mipnet.evaluation.inference import MultiInstancePredictor, autocast_dtype
from mipnet.engine.train import compute_loss
from mipnet.losses import JointsMSELoss
from mipnet.models import build_model
from mipnet.models.hrnet import BasicBlock, Bottleneck, HighResolutionModule
from mipnet.models.summary import count_flops
from mipnet.utils.dist import resolve_device_type, setup_cpu_math

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {name: str(REPO / 'experiments' / path) for name, path in {
    'w48_384x288': 'coco/hrnet/w48_384x288_adam_lr1e-3.yaml',
    'w32_256x192': 'coco/hrnet/w32_256x192_adam_lr1e-3.yaml',
    'tiny': 'synthetic/tiny_mipnet.yaml',
    'small': 'synthetic/small_mipnet.yaml',
}.items()}


def sync(device):
    if device.type != 'cpu':
        getattr(torch, device.type).synchronize()


# Wall-clock by default; ``--cpu-clock`` (CPU device) counts this process's CPU seconds, which
# time spent descheduled by other jobs on a shared machine does not inflate.
CLOCK = {'clock': time.perf_counter}


def timed(fns, device, warmup, repeat):
    """Median seconds of each function in ``fns``, timed round-robin after ``warmup`` rounds.

    Interleaving the candidates makes their ratio robust to load that changes over the run.
    """
    clock = CLOCK['clock']
    for _ in range(warmup):
        for fn in fns:
            fn()
    sync(device)
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, bucket in zip(fns, times):
            start = clock()
            fn()
            sync(device)
            bucket.append(clock() - start)
    return [sorted(t)[len(t) // 2] for t in times]


def matmul_gflops(device, dtype, size=2048, repeat=5):
    """Measured dense matmul GFLOP/s: the practical peak for this dtype."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds, = timed([lambda: a @ b], device, 2, repeat)
    return 2 * size ** 3 / seconds / 1e9


def make_model(name, device, num_instances=2, shared=True, opts=()):
    cfg = load_config(CONFIGS[name], ['MODEL.PRETRAINED', '', 'MODEL.NUM_INSTANCES',
                                      str(num_instances), 'MODEL.SHARED_TRUNK', str(shared),
                                      *opts])
    model = build_model(cfg, is_train=True).to(device)
    return cfg, model


def _train_step(name, device, batch, amp, shared, compile_model=False):
    from mipnet.utils.compile import CompiledModule
    cfg, model = make_model(name, device, shared=shared)
    model.train()
    net = model
    if compile_model:
        model = CompiledModule(model, 'training model')
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    criterion = JointsMSELoss(True)
    w, h = cfg.MODEL.IMAGE_SIZE
    hw, hh = cfg.MODEL.HEATMAP_SIZE
    n, j = cfg.MODEL.NUM_INSTANCES, cfg.MODEL.NUM_JOINTS
    images = torch.randn(batch, 3, h, w, device=device)
    target = torch.rand(batch, n, j, hh, hw, device=device)
    weight = torch.ones(batch, n, j, 1, device=device)

    def step():
        with torch.autocast(device.type, dtype=autocast_dtype(device.type), enabled=amp):
            loss, _ = compute_loss(cfg, model, criterion, images, target, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # Training costs about 3x the forward FLOPs (forward, input and weight gradients). The
    # reference runs the whole network once per instance.
    step.model = model
    per_box = count_flops(net, (w, h), n)['total'] if shared else \
        n * count_flops(net, (w, h), 1)['total']
    return step, 3 * batch * per_box


def bench_train(name, device, batch, amp, warmup, repeat):
    """Boxes/s of one optimiser step with all instances, shared trunk vs reference."""
    (shared, shared_flops), (ref, ref_flops) = (_train_step(name, device, batch, amp, s)
                                                for s in (True, False))
    seconds = timed([shared, ref], device, warmup, repeat)
    # Both modes do the same useful work; the reference's extra trunk passes are waste, so
    # achieved GFLOP/s counts the shared-trunk FLOPs for both.
    return [{'mode': mode, 'boxes_s': batch / t, 'gflops_s': shared_flops / t / 1e9,
             'executed_gflops_s': flops / t / 1e9}
            for mode, t, flops in (('shared trunk', seconds[0], shared_flops),
                                   ('reference (duplicated batch)', seconds[1], ref_flops))]


def bench_infer(name, device, batch, amp, warmup, repeat):
    """Boxes/s for N = 1, 2, 4 instances with and without flip, relative to one instance."""
    cfg, model = make_model(name, device, num_instances=4)
    model.eval()
    w, h = cfg.MODEL.IMAGE_SIZE
    images = torch.randn(batch, 3, h, w, device=device)
    rows = []
    for flip in (False, True):
        flip_index = torch.arange(cfg.MODEL.NUM_JOINTS) if flip else None
        predictors = [MultiInstancePredictor(model, range(n), flip_index=flip_index, amp=amp)
                      for n in (1, 2, 4)]
        seconds = timed([lambda p=p: p.heatmaps(images) for p in predictors], device, warmup,
                        repeat)
        rows += [{'flip': flip, 'instances': n, 'boxes_s': batch / t, 'cost': t / seconds[0]}
                 for n, t in zip((1, 2, 4), seconds)]
    return rows


def _out_of_place_block(self, x):
    """BasicBlock / Bottleneck forward as before issue 21: a new tensor for the sum."""
    residual = x if self.downsample is None else self.downsample(x)
    out = self.relu(self.bn1(self.conv1(x)))
    if isinstance(self, Bottleneck):
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
    else:
        out = self.bn2(self.conv2(out))
    return self.relu(out + residual)


def _out_of_place_fusion(self, x):
    """HighResolutionModule forward as before issue 21: every fusion term a new tensor."""
    x = [branch(t) for branch, t in zip(self.branches, x)]
    if self.num_branches == 1:
        return x
    out = []
    for i, row in enumerate(self.fuse_layers):
        y = x[i]
        for j in range(self.num_branches):
            if j != i:
                y = y + row[j](x[j])
        out.append(self.relu(y))
    return out


def out_of_place_copy(model):
    """A copy of ``model`` (same weights) whose blocks add residuals out of place."""
    legacy = copy.deepcopy(model)
    for m in legacy.modules():
        if isinstance(m, (BasicBlock, Bottleneck)):
            m.forward = types.MethodType(_out_of_place_block, m)
        elif isinstance(m, HighResolutionModule):
            m.forward = types.MethodType(_out_of_place_fusion, m)
    return legacy


def bench_blocks(name, device, batch, warmup, repeat):
    """Eval forwards (no grad), in-place vs out-of-place blocks, all interleaved: the plain
    HRNet (``pose_hrnet``), and MIPNet with one and with two instances (shared trunk).

    Returns:
        {variant: {'plain': s, 'one': s, 'two': s}} for variant 'in-place' / 'out-of-place'
        (median seconds), and 'max_abs_diff' between the variants' outputs.
    """
    cfg, plain = make_model(name, device, opts=['MODEL.NAME', 'pose_hrnet'])
    _, mip = make_model(name, device, num_instances=2)
    w, h = cfg.MODEL.IMAGE_SIZE
    images = torch.randn(batch, 3, h, w, device=device)
    fns, diff = [], 0.0
    nets = {'in-place': (plain.eval(), mip.eval())}
    nets['out-of-place'] = tuple(out_of_place_copy(m) for m in nets['in-place'])
    with torch.inference_mode():
        for p, m in nets.values():
            one = MultiInstancePredictor(m, range(1))
            two = MultiInstancePredictor(m, range(2))
            fns += [lambda p=p: p(images), lambda one=one: one.heatmaps(images),
                    lambda two=two: two.heatmaps(images)]
        outs = [[fn() for fn in fns[k:k + 3]] for k in (0, 3)]
        diff = max(float((a - b).abs().max()) for a, b in zip(*outs))
        seconds = timed(fns, device, warmup, repeat)
    result = {v: dict(zip(('plain', 'one', 'two'), seconds[3 * k:3 * k + 3]))
              for k, v in enumerate(nets)}
    result['max_abs_diff'] = diff
    return result


# ---- fast paths (issue 31) ---------------------------------------------------------------
#: config overrides of each PyTorch inference path; 'eager' is the path before issue 31
FAST_PATHS = {
    'eager': ['TEST.FUSE_BN', 'False', 'TEST.CHANNELS_LAST', 'False', 'TEST.COMPILE', 'False'],
    'fuse_bn': ['TEST.FUSE_BN', 'True', 'TEST.CHANNELS_LAST', 'False', 'TEST.COMPILE', 'False'],
    'channels_last': ['TEST.FUSE_BN', 'False', 'TEST.CHANNELS_LAST', 'True',
                      'TEST.COMPILE', 'False'],
    'fuse_bn + channels_last': ['TEST.FUSE_BN', 'True', 'TEST.CHANNELS_LAST', 'True',
                                'TEST.COMPILE', 'False'],
    'compile': ['TEST.FUSE_BN', 'False', 'TEST.CHANNELS_LAST', 'False', 'TEST.COMPILE', 'True'],
    'fuse_bn + channels_last + compile': ['TEST.FUSE_BN', 'True', 'TEST.CHANNELS_LAST', 'True',
                                          'TEST.COMPILE', 'True'],
}


def with_opts(cfg, opts):
    cfg = cfg.clone()
    cfg.defrost()
    cfg.merge_from_list(list(opts))
    cfg.freeze()
    return cfg


def bench_fast_paths(name, device, batch, warmup, repeat, compile_model=True):
    """Two-instance inference forward (no flip) of every fast path against eager.

    Returns:
        list of dicts: 'path', 'seconds' (median per batch), 'ratio' (eager / path),
        'rel_diff' (max |heatmaps - eager| / max |eager|), 'setup_s' (wall time of the
        fold / compile / export + session: inductor compiles in worker processes, which a
        process CPU clock does not count).
    """
    from mipnet.evaluation.inference import predictor_from_cfg
    from mipnet.evaluation.onnxruntime_backend import OnnxRuntimeModel, export_instances_onnx
    torch._dynamo.reset()      # each config compiles from scratch (no graphs of the last)
    cfg, model = make_model(name, device, opts=['TEST.BATCH_SIZE_PER_GPU', str(batch)])
    model.eval()
    w, h = cfg.MODEL.IMAGE_SIZE
    images = torch.randn(batch, 3, h, w, device=device)
    paths, setup = {}, {}
    for label, opts in FAST_PATHS.items():
        if 'compile' in label and not compile_model:
            continue
        start = time.perf_counter()
        predictor = predictor_from_cfg(with_opts(cfg, opts), model, None)
        if 'compile' in label:
            predictor.heatmaps(images)      # the first call compiles
        setup[label] = time.perf_counter() - start
        paths[label] = predictor
    with tempfile.TemporaryDirectory(prefix='mipnet_bench_onnx_') as tmp:
        start = time.perf_counter()
        onnx_file = os.path.join(tmp, 'model.onnx')
        export_instances_onnx(model, onnx_file, cfg.MODEL.IMAGE_SIZE)
        model.to(device)
        ort_model = OnnxRuntimeModel(onnx_file, device)
        setup['onnxruntime'] = time.perf_counter() - start
    paths['onnxruntime'] = predictor_from_cfg(with_opts(cfg, FAST_PATHS['eager']), ort_model,
                                              None)
    expected = paths['eager'].heatmaps(images)
    scale = float(expected.abs().max())
    diffs = {label: float((p.heatmaps(images) - expected).abs().max()) / scale
             for label, p in paths.items()}
    seconds = timed([lambda p=p: p.heatmaps(images) for p in paths.values()], device, warmup,
                    repeat)
    for label, predictor in paths.items():
        if getattr(predictor.model, 'error', None):
            print(f'{label}: compile fell back to eager: {predictor.model.error}')
    return [{'path': label, 'seconds': t, 'ratio': seconds[0] / t, 'rel_diff': diffs[label],
             'setup_s': setup[label]} for label, t in zip(paths, seconds)]


def bench_train_compile(name, device, batch, amp, warmup, repeat):
    """One training step (2 instances, shared trunk) eager against TRAIN.COMPILE.

    Returns:
        dict with 'eager_s', 'compiled_s' (median per step), 'compile_s' (the first
        compiled step, forward and backward), 'error' (None or why compiling failed).
    """
    eager, _ = _train_step(name, device, batch, amp, True)
    compiled, _ = _train_step(name, device, batch, amp, True, compile_model=True)
    start = time.perf_counter()
    compiled()
    compile_s = time.perf_counter() - start
    seconds = timed([eager, compiled], device, warmup, repeat)
    return {'eager_s': seconds[0], 'compiled_s': seconds[1], 'compile_s': compile_s,
            'error': compiled.model.error}


def bench_eval_batches(name, device, boxes, sizes, warmup, repeat):
    """The network work of the evaluation loop (shipped defaults, 2 instances, flip test)
    over the same ``boxes`` crops at each batch size of ``sizes``, interleaved.

    Returns:
        list of dicts: 'batch', 'seconds' (median for all the boxes), 'max_diff' (largest
        |heatmaps - those at the first size| relative to their maximum).
    """
    from mipnet.evaluation.inference import predictor_from_cfg
    from mipnet.data.metadata import get_keypoint_meta
    cfg, model = make_model(name, device, opts=['TEST.FLIP_TEST', 'True'])
    model.eval()
    predictor = predictor_from_cfg(cfg, model, get_keypoint_meta('coco').flip_index)
    w, h = cfg.MODEL.IMAGE_SIZE
    images = torch.randn(boxes, 3, h, w, generator=torch.Generator().manual_seed(0))
    images = images.to(device)

    def run(size):
        return torch.cat([predictor.heatmaps(images[i:i + size])
                          for i in range(0, boxes, size)])

    outputs = [run(size) for size in sizes]
    scale = float(outputs[0].abs().max())
    seconds = timed([lambda size=size: run(size) for size in sizes], device, warmup, repeat)
    return [{'batch': size, 'seconds': t,
             'max_diff': float((out - outputs[0]).abs().max()) / scale}
            for size, t, out in zip(sizes, seconds, outputs)]


def synthetic_images(folder, count, size=(640, 480)):
    """``count`` synthetic crowd scenes as JPEG files in ``folder``; returns {file name:
    (M, 4) xywh boxes of their people}."""
    import cv2
    import numpy as np
    from mipnet.data.synthetic.scene import render_image
    boxes = {}
    for i in range(count):
        image, people = render_image(0, 'bench', i, image_size=size)
        file = f'{i:06d}.jpg'
        cv2.imwrite(os.path.join(folder, file), image)
        boxes[file] = np.asarray([p['bbox'] for p in people], dtype=np.float64).reshape(-1, 4)
    return boxes


def bench_inferencer(name, device, count, repeat, batch_sizes=()):
    """PoseInferencer end to end on ``count`` synthetic images: today's eager path, the
    shipped defaults and the ONNX Runtime backend (all at the config's
    ``TEST.BATCH_SIZE_PER_GPU``), and the shipped defaults at each of ``batch_sizes``.

    Returns:
        (rows: dicts with 'path', 'seconds' (median of one pass over the images), 'ratio'
        (eager / path), 'setup_s' (construction), 'poses', 'max_xy' / 'max_score' (largest
        keypoint-coordinate and pose-score difference from eager over the same poses),
        'same_argmax' (fraction of keypoints at the same heatmap cell as eager)), boxes).
    """
    import numpy as np
    from mipnet.apis import PoseInferencer
    cfg, model = make_model(name, device)
    model.eval()
    with tempfile.TemporaryDirectory(prefix='mipnet_bench_inferencer_') as tmp:
        boxes = synthetic_images(tmp, count)
        ckpt = os.path.join(tmp, 'model.pth')
        torch.save(model.state_dict(), ckpt)
        base = with_opts(cfg, ['TEST.MODEL_FILE', ckpt, 'DEVICE', device.type])

        def detector(image, keys):
            file = keys[0]
            return boxes[file], np.ones(len(boxes[file]))

        variants = {'eager (before issue 31)': (FAST_PATHS['eager'], 'pytorch', None),
                    'shipped defaults': ([], 'pytorch', None),
                    'onnxruntime backend': ([], 'onnxruntime', None)}
        variants.update({f'shipped defaults, batch {b}': ([], 'pytorch', b)
                         for b in batch_sizes})
        inferencers, setup = {}, {}
        for label, (opts, backend, batch) in variants.items():
            start = time.perf_counter()
            inferencers[label] = PoseInferencer(with_opts(base, opts), detector=detector,
                                                backend=backend, batch_size=batch)
            setup[label] = time.perf_counter() - start
        files = [os.path.join(tmp, f) for f in sorted(boxes)]
        results = {label: [r['poses'] for r in inf(files)] for label, inf in inferencers.items()}
        # The pass that collected the results above was the warm-up.
        seconds = timed([lambda inf=inf: sum(1 for _ in inf(files))
                         for inf in inferencers.values()], device, 0, repeat)
    ref = results['eager (before issue 31)']
    stride = np.array(cfg.MODEL.IMAGE_SIZE, dtype=np.float64) / np.array(cfg.MODEL.HEATMAP_SIZE)
    rows = []
    for (label, poses), t in zip(results.items(), seconds):
        xy, score, same, total = 0.0, 0.0, 0, 0
        for a_img, b_img in zip(ref, poses):
            for a, b in zip(sorted(a_img, key=lambda p: (p['box_index'], p['instance'])),
                            sorted(b_img, key=lambda p: (p['box_index'], p['instance']))):
                ka = np.asarray(a['keypoints']).reshape(-1, 3)
                kb = np.asarray(b['keypoints']).reshape(-1, 3)
                d = np.abs(ka[:, :2] - kb[:, :2])
                xy = max(xy, float(d.max()))
                score = max(score, abs(a['score'] - b['score']))
                same += int(np.sum(np.all(d < 0.5 * stride.min(), axis=1)))
                total += len(ka)
        rows.append({'path': label, 'seconds': t, 'ratio': seconds[0] / t,
                     'setup_s': setup[label], 'poses': sum(len(p) for p in poses),
                     'max_xy': xy, 'max_score': score, 'same_argmax': same / max(total, 1)})
    return rows, sum(len(b) for b in boxes.values())


def profile_step(name, device, batch, amp):
    """Print the ops of one training step (after one untimed step), most self time first."""
    from torch.profiler import ProfilerActivity, profile
    step, _ = _train_step(name, device, batch, amp, True)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print(f'## {name}: profile of one training step, {batch} boxes, 2 instances')
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=20))


def bench_batch_sizes(name, device, sizes, amp, warmup, repeat):
    out = []
    for batch in sizes:
        rows = bench_train(name, device, batch, amp, warmup, repeat)
        out.append((batch, rows[0]['boxes_s'], rows[1]['boxes_s']))
    return out


def plot(curves, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, points in curves.items():
        sizes = [p[0] for p in points]
        ax.plot(sizes, [p[1] for p in points], 'o-', label=f'{name} shared trunk')
        ax.plot(sizes, [p[2] for p in points], 's--', label=f'{name} reference')
    ax.set_xlabel('batch size (boxes)')
    ax.set_ylabel('training boxes/s (2 instances)')
    ax.set_xscale('log', base=2)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def load_average():
    """The 1/5/15-minute load averages, as ``uptime`` shows them."""
    return ', '.join(f'{v:.2f}' for v in os.getloadavg())


def print_new_tables(name, device, args):
    """The --fast-paths, --train-compile and --inferencer tables of config ``name``."""
    if args.fast_paths:
        b = args.infer_batch
        rows = bench_fast_paths(name, device, b, args.warmup, args.repeat,
                                compile_model=not args.no_compile)
        print(f'## {name}: inference fast paths, {b} boxes x 2 instances, no flip (median of '
              f'{args.repeat}, interleaved; load average now {load_average()})')
        print('| path | s/batch | boxes/s | speed vs eager | max rel. heatmap diff | '
              'set-up s (wall) |')
        print('|---|---|---|---|---|---|')
        for r in rows:
            print(f'| {r["path"]} | {r["seconds"]:.3f} | {b / r["seconds"]:.2f} | '
                  f'{r["ratio"]:.3f}x | {r["rel_diff"]:.2g} | {r["setup_s"]:.1f} |')
        print()
    if args.train_compile and not args.no_compile:
        r = bench_train_compile(name, device, args.batch, args.amp, args.warmup, args.repeat)
        print(f'## {name}: training step, {args.batch} boxes x 2 instances, eager vs '
              f'TRAIN.COMPILE (median of {args.repeat}, interleaved; load average now '
              f'{load_average()})')
        print('| mode | s/step | boxes/s | speed vs eager | first step (compile) s (wall) |')
        print('|---|---|---|---|---|')
        print(f'| eager | {r["eager_s"]:.3f} | {args.batch / r["eager_s"]:.2f} | 1.000x | - |')
        print(f'| TRAIN.COMPILE | {r["compiled_s"]:.3f} | {args.batch / r["compiled_s"]:.2f} | '
              f'{r["eager_s"] / r["compiled_s"]:.3f}x | {r["compile_s"]:.1f} |')
        if r['error']:
            print(f'compile fell back to eager: {r["error"]}')
        print()
    if args.eval_batches:
        rows = bench_eval_batches(name, device, args.eval_boxes, args.eval_batches,
                                  args.warmup, args.repeat)
        print(f'## {name}: evaluation network work, {args.eval_boxes} boxes x 2 instances, '
              f'flip test, shipped defaults, by batch size (median of {args.repeat}, '
              f'interleaved; load average now {load_average()})')
        print(f'| batch | s for {args.eval_boxes} boxes | boxes/s | speed vs batch '
              f'{rows[0]["batch"]} | max rel. heatmap diff |')
        print('|---|---|---|---|---|')
        for r in rows:
            print(f'| {r["batch"]} | {r["seconds"]:.2f} | {args.eval_boxes / r["seconds"]:.2f} | '
                  f'{rows[0]["seconds"] / r["seconds"]:.3f}x | {r["max_diff"]:.2g} |')
        print()
    if args.inferencer:
        rows, boxes = bench_inferencer(name, device, args.inferencer, args.repeat,
                                       args.inferencer_batches)
        print(f'## {name}: PoseInferencer end to end, {args.inferencer} synthetic 640x480 '
              f'JPEGs, {boxes} person boxes, 2 instances, batch '
              f'{load_config(CONFIGS[name]).TEST.BATCH_SIZE_PER_GPU} unless said (median of '
              f'{args.repeat} passes, '
              f'interleaved; load average now {load_average()})')
        print('| path | s/pass | images/s | speed vs eager | set-up s (wall) | poses | '
              'max |Δxy| px | max |Δscore| | keypoints at the same cell |')
        print('|---|---|---|---|---|---|---|---|---|')
        for r in rows:
            print(f'| {r["path"]} | {r["seconds"]:.2f} | {args.inferencer / r["seconds"]:.2f} | '
                  f'{r["ratio"]:.3f}x | {r["setup_s"]:.1f} | {r["poses"]} | '
                  f'{r["max_xy"]:.3g} | {r["max_score"]:.2g} | {100 * r["same_argmax"]:.1f}% |')
        print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=['w48_384x288', 'w32_256x192'],
                        choices=sorted(CONFIGS))
    parser.add_argument('--device', default='auto')
    parser.add_argument('--amp', action='store_true', help='autocast (fp16 / bf16 on CPU)')
    parser.add_argument('--batch', type=int, default=2, help='boxes per training step')
    parser.add_argument('--infer-batch', type=int, default=4)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: default)')
    parser.add_argument('--plot', default='', help='PNG of throughput vs batch size')
    parser.add_argument('--plot-config', default='w32_256x192', choices=sorted(CONFIGS))
    parser.add_argument('--plot-sizes', type=int, nargs='+', default=[1, 2, 4, 8])
    parser.add_argument('--quick', action='store_true', help='tiny config only')
    parser.add_argument('--blocks', action='store_true',
                        help='plain forward: in-place vs out-of-place residual adds')
    parser.add_argument('--blocks-only', action='store_true',
                        help='with --blocks: skip the training and N-instance tables')
    parser.add_argument('--cpu-clock', action='store_true',
                        help='CPU device: time with the process CPU clock (robust to other '
                             'jobs on shared cores; use with --threads 1)')
    parser.add_argument('--fast-paths', action='store_true',
                        help='inference: eager vs TEST.FUSE_BN / TEST.CHANNELS_LAST / '
                             'TEST.COMPILE / ONNX Runtime (2 instances, --infer-batch)')
    parser.add_argument('--no-compile', action='store_true',
                        help='with --fast-paths / --train-compile: leave torch.compile out')
    parser.add_argument('--train-compile', action='store_true',
                        help='training step: eager vs TRAIN.COMPILE (--batch)')
    parser.add_argument('--inferencer', type=int, default=0, metavar='N',
                        help='PoseInferencer end to end on N synthetic images: eager vs the '
                             'shipped defaults vs the ONNX Runtime backend')
    parser.add_argument('--inferencer-batches', type=int, nargs='+', default=[], metavar='B',
                        help='with --inferencer: the shipped defaults also at these batch '
                             'sizes (boxes per forward pass)')
    parser.add_argument('--eval-batches', type=int, nargs='+', default=[], metavar='B',
                        help='the evaluation network work (flip test, shipped defaults) over '
                             '--eval-boxes crops at each of these batch sizes')
    parser.add_argument('--eval-boxes', type=int, default=128,
                        help='with --eval-batches: boxes timed at each batch size')
    parser.add_argument('--only-new', action='store_true',
                        help='only the --fast-paths / --train-compile / --inferencer / '
                             '--eval-batches tables')
    parser.add_argument('--profile', action='store_true',
                        help='only print the torch profile (self CPU time per op) of one '
                             'shared-trunk training step of each config at --batch')
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.plot_config = ['tiny'], 'tiny'
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device_type(args.device))
    if args.cpu_clock:
        if device.type != 'cpu':
            parser.error('--cpu-clock times CPU work only; use it with --device cpu')
        CLOCK['clock'] = time.process_time
    setup_cpu_math()
    dtype = autocast_dtype(device.type) if args.amp else torch.float32
    torch.manual_seed(0)

    print(f'machine: {platform.platform()} | {platform.processor() or platform.machine()} | '
          f'torch {torch.__version__} | device {device} | threads {torch.get_num_threads()} | '
          f'AMP {args.amp} | clock {"process CPU time" if args.cpu_clock else "wall"}')
    print(f'load average at start: {load_average()}')
    peak = matmul_gflops(device, dtype)
    print(f'matmul {str(dtype).replace("torch.", "")} 2048^3: {peak:.1f} GFLOP/s (measured peak)\n')

    for name in args.configs:
        if args.profile:
            profile_step(name, device, args.batch, args.amp)
            continue
        print_new_tables(name, device, args)
        if args.only_new:
            continue
        if args.blocks:
            r = bench_blocks(name, device, args.infer_batch, args.warmup, args.repeat)
            b = args.infer_batch
            print(f'## {name}: eval forward, {b} boxes (median of {args.repeat}, interleaved)')
            print('| residual adds | plain HRNet boxes/s | MIPNet 1 inst. boxes/s | '
                  'MIPNet 2 inst. boxes/s | 2 inst. cost vs 1 |')
            print('|---|---|---|---|---|')
            for v in ('out-of-place', 'in-place'):
                t = r[v]
                print(f'| {v} | {b / t["plain"]:.2f} | {b / t["one"]:.2f} | {b / t["two"]:.2f} '
                      f'| {t["two"] / t["one"]:.3f}x |')
            old, new = r['out-of-place'], r['in-place']
            print(f'in-place speed-up: plain {old["plain"] / new["plain"]:.3f}x, MIPNet 1 '
                  f'instance {old["one"] / new["one"]:.3f}x, 2 instances '
                  f'{old["two"] / new["two"]:.3f}x; max |output difference| '
                  f'{r["max_abs_diff"]:.3g}\n')
            if args.blocks_only:
                continue
        print(f'## {name}: training, {args.batch} boxes/step, all 2 instances per box')
        print('| mode | boxes/s | useful GFLOP/s | % of matmul | executed GFLOP/s |')
        print('|---|---|---|---|---|')
        rows = bench_train(name, device, args.batch, args.amp, args.warmup, args.repeat)
        for r in rows:
            print(f'| {r["mode"]} | {r["boxes_s"]:.2f} | {r["gflops_s"]:.1f} | '
                  f'{100 * r["gflops_s"] / peak:.0f}% | {r["executed_gflops_s"]:.1f} |')
        print(f'speed-up of the shared trunk: {rows[0]["boxes_s"] / rows[1]["boxes_s"]:.2f}x\n')

        print(f'## {name}: inference, {args.infer_batch} boxes/batch (shared trunk)')
        print('| flip | instances | boxes/s | cost vs 1 instance | reference cost |')
        print('|---|---|---|---|---|')
        for r in bench_infer(name, device, args.infer_batch, args.amp, args.warmup,
                             args.repeat):
            print(f'| {"yes" if r["flip"] else "no"} | {r["instances"]} | {r["boxes_s"]:.2f} | '
                  f'{r["cost"]:.2f}x | {r["instances"]:.2f}x |')
        print()

    if args.plot:
        points = bench_batch_sizes(args.plot_config, device, args.plot_sizes, args.amp,
                                   args.warmup, args.repeat)
        print(f'## {args.plot_config}: training boxes/s vs batch size')
        print('| batch | shared trunk | reference | ratio |')
        print('|---|---|---|---|')
        for b, s, r in points:
            print(f'| {b} | {s:.2f} | {r:.2f} | {s / r:.2f}x |')
        plot({args.plot_config: points}, args.plot)
        print(f'plot written to {args.plot}')


if __name__ == '__main__':
    main()
