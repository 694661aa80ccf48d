"""Device check for one CUDA GPU: the CUDA-marked tests, then training and inference speed.

Runs, in this order and within ``--budget-s`` (default 420 s, under the 8 minutes a lent GPU
machine gives):

1. the test suite's CUDA-marked tests (``pytest -m cuda``): float16 AMP stays finite over 50
   steps, a one-GPU NCCL DDP step, batched targets on the GPU, the launcher's FPS line;
2. training boxes/s (one optimiser step over all instances of every box, warm-up excluded)
   of MIPNet (``pose_hrnet_se_lambda``, two instances, shared trunk) and of the HRNet
   baseline (``pose_hrnet``) at W48 384x288 and W32 256x192, for fp32, AMP float16 (with a
   GradScaler) and AMP bfloat16, channels_last off and on, batch 24 and 64;
3. inference boxes/s (eval, no flip) of both: MIPNet with both instances, HRNet plain, for
   fp32 / AMP fp16 / AMP bf16 with channels_last, fp32 without, and the fast paths in fp32:
   BatchNorm folded (``TEST.FUSE_BN``), ``torch.compile`` (``TEST.COMPILE``: inductor,
   frozen weights, on the folded channels_last copy; its compile time is recorded) and ONNX
   Runtime (the shared-trunk graph of ``PoseInferencer(backend='onnxruntime')``, with the
   CUDA execution provider when onnxruntime-gpu is installed, else recorded as CPU);
4. the data pipeline (``benchmarks/benchmark_data.py --device cuda``, at most 90 s): samples/s
   of the per-sample, batched and image-cache paths with 1 and 4 workers, targets made on the
   GPU.

It prints one table and writes a JSON file. Nothing is installed from the network: the
package is imported from ``lib/`` of this checkout; what a CUDA image with PyTorch may lack
(yacs, opencv-python-headless, pycocotools, pytest) can travel as wheels in ``--wheels DIR``
(prepared elsewhere with ``pip download -d DIR yacs opencv-python-headless pycocotools
pytest``) and is then installed with ``pip --no-index``. A measurement that runs out of GPU
memory is recorded as OOM; measurements past the time budget are recorded as skipped.

``--dry-run`` runs the same code on the CPU with the tiny config, batch 2, no warm-up and
one timed step, so that CI checks the script in under 30 s; its numbers are not GPU
measurements, and its compile row uses dynamo's ``eager`` backend (inductor's C++ build of even the tiny
model takes a minute on a CPU; the inductor path itself is pinned by
tests/utils/test_compile.py).

Examples:
    python benchmarks/device_check.py                      # on the GPU machine
    python benchmarks/device_check.py --dry-run --tests tests/engine/test_cuda.py
"""
import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEEDED = {'yacs': 'yacs', 'cv2': 'opencv-python-headless', 'pycocotools': 'pycocotools',
          'numpy': 'numpy'}
PRECISIONS = ('fp32', 'fp16', 'bf16')
#: inference paths besides eager, measured in fp32
FAST_PATHS = ('fuse_bn', 'compile', 'onnxruntime')
MODELS = {'mipnet': 'pose_hrnet_se_lambda', 'hrnet': 'pose_hrnet'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dry-run', action='store_true',
                   help='CPU, tiny config, batch 2, no warm-up, one timed step: checks the '
                        'script only (under 30 s)')
    p.add_argument('--out', default='device_check.json', help='JSON result file')
    p.add_argument('--budget-s', type=float, default=420.0,
                   help='time for the whole check; later measurements are skipped')
    p.add_argument('--tests', nargs='*', default=['tests'],
                   help='test paths for the CUDA-marked tests (none: skip the tests)')
    p.add_argument('--wheels', default='', help='folder of wheels for missing dependencies')
    p.add_argument('--configs', nargs='+', default=None,
                   help='benchmark_model config names (default: w48_384x288 w32_256x192)')
    p.add_argument('--batches', type=int, nargs='+', default=None, help='default: 24 64')
    p.add_argument('--warmup', type=int, default=None, help='untimed steps (default 3)')
    p.add_argument('--steps', type=int, default=None, help='timed steps (default 5)')
    args = p.parse_args(argv)
    dry = args.dry_run
    args.configs = args.configs or (['tiny'] if dry else ['w48_384x288', 'w32_256x192'])
    args.batches = args.batches or ([2] if dry else [24, 64])
    args.warmup = args.warmup if args.warmup is not None else (0 if dry else 3)
    args.steps = args.steps if args.steps is not None else (1 if dry else 5)
    return args


def ensure_dependencies(wheels):
    """Install missing modules from local wheels (never the network); returns what is missing."""
    missing = [pkg for mod, pkg in NEEDED.items() if importlib.util.find_spec(mod) is None]
    if missing and wheels:
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-index', '--find-links',
                        wheels, *missing], check=False)
        importlib.invalidate_caches()
        missing = [pkg for mod, pkg in NEEDED.items() if importlib.util.find_spec(mod) is None]
    return missing


def _env():
    """The environment of a child process that imports the package from this checkout."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO / 'lib'), str(REPO), os.environ.get('PYTHONPATH', '')])))


def run_data_pipeline(device, dry_run, budget_s):
    """benchmarks/benchmark_data.py with targets on ``device``; its table as text."""
    cmd = [sys.executable, str(REPO / 'benchmarks' / 'benchmark_data.py'), '--device', device,
           *(['--workers', '0', '--rounds', '1', '--samples', '16'] if dry_run else
             ['--workers', '1', '4', '--rounds', '3', '--samples', '320'])]
    if budget_s < 10:
        return {'status': 'skipped (time budget)', 'command': ' '.join(cmd)}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=_env(),
                              timeout=budget_s)
    except subprocess.TimeoutExpired:
        return {'status': f'timed out after {budget_s:.0f} s', 'command': ' '.join(cmd)}
    return {'status': 'ok' if proc.returncode == 0 else f'failed (exit {proc.returncode})',
            'command': ' '.join(cmd), 'seconds': round(time.perf_counter() - start, 1),
            'output': (proc.stdout + proc.stderr)[-4000:]}


def run_cuda_tests(paths, budget_s):
    """``pytest -m cuda`` on ``paths``; returns counts and the summary line."""
    if not paths:
        return {'status': 'not run (no test paths)'}
    if importlib.util.find_spec('pytest') is None:
        return {'status': 'not run: pytest is not installed (pass its wheel in --wheels)'}
    cmd = [sys.executable, '-m', 'pytest', '-q', '-rs', '-m', 'cuda', '-p', 'no:cacheprovider',
           *paths]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=_env(),
                              timeout=max(budget_s, 30))
    except subprocess.TimeoutExpired:
        return {'status': f'timed out after {budget_s:.0f} s', 'command': ' '.join(cmd)}
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else proc.stderr.strip()[-300:]
    counts = {k: int(v) for v, k in re.findall(r'(\d+) (passed|failed|skipped|error|errors|'
                                               r'deselected)', summary)}
    return {'status': 'passed' if proc.returncode in (0, 5) and not counts.get('failed')
            else f'failed (exit {proc.returncode})', 'summary': summary, 'counts': counts,
            'seconds': round(time.perf_counter() - start, 1), 'command': ' '.join(cmd),
            'output_tail': proc.stdout[-3000:] if proc.returncode not in (0, 5) else ''}


class Unavailable(Exception):
    """A measurement this machine cannot make (an optional package is missing)."""


class Bench:
    """Training and inference measurements with one torch device."""

    def __init__(self, device, warmup, steps, compile_backend='inductor'):
        import torch
        self.torch = torch
        self.device = device
        self.warmup, self.steps = warmup, steps
        self.compile_backend = compile_backend

    def dtype(self, precision):
        torch = self.torch
        return {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}[precision]

    def _inputs(self, cfg, batch, channels_last):
        torch = self.torch
        w, h = cfg.MODEL.IMAGE_SIZE
        hw, hh = cfg.MODEL.HEATMAP_SIZE
        n, j = cfg.MODEL.NUM_INSTANCES, cfg.MODEL.NUM_JOINTS
        images = torch.randn(batch, 3, h, w, device=self.device)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return (images, torch.rand(batch, n, j, hh, hw, device=self.device),
                torch.ones(batch, n, j, 1, device=self.device))

    def _time(self, fn):
        from benchmark_model import sync
        for _ in range(self.warmup):
            fn()
        sync(self.device)
        start = time.perf_counter()
        for _ in range(self.steps):
            fn()
        sync(self.device)
        return (time.perf_counter() - start) / self.steps

    def train(self, cfg, model, batch, precision, channels_last):
        """Boxes/s of one optimiser step (all instances of every box)."""
        torch = self.torch
        from mipnet.engine.train import compute_loss
        from mipnet.losses import JointsMSELoss
        model.train()
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        images, target, weight = self._inputs(cfg, batch, channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=1e-5)
        criterion = JointsMSELoss(True)
        amp = precision != 'fp32'
        scaler = torch.amp.GradScaler(self.device.type,
                                      enabled=precision == 'fp16' and self.device.type != 'cpu')
        losses = []

        def step():
            with torch.autocast(self.device.type, dtype=self.dtype(precision), enabled=amp):
                loss, _ = compute_loss(cfg, model, criterion, images, target, weight)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.detach())

        seconds = self._time(step)
        finite = bool(torch.isfinite(torch.stack(losses)).all())
        return {'boxes_s': batch / seconds, 'step_s': seconds, 'finite_loss': finite}

    def infer(self, cfg, model, batch, precision, channels_last=True):
        """Boxes/s of the eval forward: all instances (shared trunk) or the plain network."""
        torch = self.torch
        from mipnet.evaluation.inference import instance_heatmaps
        model.eval()
        model.to(memory_format=torch.channels_last if channels_last else
                 torch.contiguous_format)
        images, _, _ = self._inputs(cfg, batch, channels_last)
        instances = range(cfg.MODEL.NUM_INSTANCES) if model.uses_lambda else None

        def forward():
            with torch.inference_mode(), torch.autocast(
                    self.device.type, dtype=self.dtype(precision), enabled=precision != 'fp32'):
                return instance_heatmaps(model, images, instances) if instances else \
                    model(images)

        seconds = self._time(forward)
        return {'boxes_s': batch / seconds, 'batch_s': seconds}


    def infer_fast(self, cfg, model, batch, path):
        """Boxes/s of the fp32 eval forward through a fast path of :data:`FAST_PATHS`,
        with 'setup_s' (fold / compile / export + session, the compile's first call) and,
        for ONNX Runtime, the execution 'provider' that ran."""
        torch = self.torch
        import tempfile
        from benchmark_model import sync
        from mipnet.evaluation.inference import instance_heatmaps
        from mipnet.models.fusion import fuse_bn
        model.eval()
        channels_last = path != 'onnxruntime'
        images, _, _ = self._inputs(cfg, batch, channels_last)
        instances = list(range(cfg.MODEL.NUM_INSTANCES)) if model.uses_lambda else [0]
        extra = {}
        start = time.perf_counter()
        if path == 'onnxruntime':
            if importlib.util.find_spec('onnxruntime') is None:
                raise Unavailable('onnxruntime is not installed')
            from mipnet.evaluation.onnxruntime_backend import (OnnxRuntimeModel,
                                                               export_instances_onnx)
            with tempfile.TemporaryDirectory(prefix='device_check_onnx_') as tmp:
                onnx_file = os.path.join(tmp, 'model.onnx')
                export_instances_onnx(model, onnx_file, cfg.MODEL.IMAGE_SIZE)
                model.to(self.device)
                run = OnnxRuntimeModel(onnx_file, self.device)
            extra['provider'] = run.providers[0]
        else:
            run = fuse_bn(model).to(memory_format=torch.channels_last)
            if path == 'compile':
                from mipnet.utils.compile import CompiledModule
                run = CompiledModule(run, 'inference model', backend=self.compile_backend,
                                     freeze=True)

        def forward():
            with torch.inference_mode():
                return instance_heatmaps(run, images, instances)

        if path == 'compile':
            forward()
            sync(self.device)
            if run.error:
                raise RuntimeError(f'compile failed: {run.error}')
        extra['setup_s'] = time.perf_counter() - start
        seconds = self._time(forward)
        return {'boxes_s': batch / seconds, 'batch_s': seconds, **extra}


def measure(args, bench, deadline, log):
    """All training and inference rows (dicts), OOM and budget recorded per row."""
    torch = bench.torch
    from benchmark_model import make_model
    rows = []
    for config in args.configs:
        for label, name in MODELS.items():
            cfg, model = make_model(config, bench.device, opts=['MODEL.NAME', name])
            # The dry run checks each code path once: float16 autocast on a CPU takes
            # seconds per tiny step, so only fp32 trains in both memory formats there.
            jobs = [('train', p, cl, b) for p in PRECISIONS for cl in (False, True)
                    for b in args.batches if not (args.dry_run and p != 'fp32' and not cl)]
            batch = max(args.batches)
            jobs += [('infer', p, True, batch) for p in PRECISIONS]
            jobs += [('infer', 'fp32', False, batch)]
            jobs += [(f'infer {path}', 'fp32', path != 'onnxruntime', batch)
                     for path in FAST_PATHS]
            for kind, precision, cl, batch in jobs:
                row = {'config': config, 'model': label, 'kind': kind, 'precision': precision,
                       'channels_last': cl, 'batch': batch}
                if time.perf_counter() > deadline:
                    row['status'] = 'skipped (time budget)'
                else:
                    try:
                        if kind == 'train':
                            row.update(bench.train(cfg, model, batch, precision, cl))
                        elif kind == 'infer':
                            row.update(bench.infer(cfg, model, batch, precision, cl))
                        else:
                            row.update(bench.infer_fast(cfg, model, batch,
                                                        kind.split(' ', 1)[1]))
                        row['status'] = 'ok'
                    except Unavailable as exc:
                        row['status'] = f'n/a ({exc})'
                    except torch.cuda.OutOfMemoryError:
                        row['status'] = 'OOM'
                    except RuntimeError as exc:   # e.g. a dtype the device lacks
                        row['status'] = f'error: {str(exc).splitlines()[0][:120]}'
                    if bench.device.type == 'cuda':
                        torch.cuda.empty_cache()
                log(row)
                rows.append(row)
            del model
    return rows


def table(rows):
    """Markdown table: one line per (config, model, kind, channels_last, batch)."""
    keys = []
    cells = {}
    for r in rows:
        key = (r['config'], r['model'], r['kind'], r['channels_last'], r['batch'])
        if key not in cells:
            keys.append(key)
            cells[key] = {}
        cells[key][r['precision']] = f'{r["boxes_s"]:.1f}' if r['status'] == 'ok' else \
            r['status'].split(' ')[0]
    out = ['| config | model | kind | channels_last | batch | fp32 boxes/s | AMP fp16 | '
           'AMP bf16 |', '|---|---|---|---|---|---|---|---|']
    for key in keys:
        c = cells[key]
        out.append('| ' + ' | '.join([key[0], key[1], key[2], 'on' if key[3] else 'off',
                                      str(key[4])] + [c.get(p, '-') for p in PRECISIONS])
                   + ' |')
    return '\n'.join(out)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    deadline = start + args.budget_s
    missing = ensure_dependencies(args.wheels)
    if missing:
        print(f'error: missing Python packages {", ".join(missing)}; nothing is installed from '
              f'the network: pass --wheels DIR with their wheels (pip download -d DIR '
              f'{" ".join(missing)}).', file=sys.stderr)
        return 2
    sys.path[:0] = [str(REPO / 'lib'), str(REPO / 'benchmarks')]
    import torch
    from mipnet.utils.dist import setup_cpu_math

    if args.dry_run:
        device = torch.device('cpu')
        torch.set_num_threads(1)     # tiny steps: threads would only spin
    elif not torch.cuda.is_available():
        print('error: no CUDA GPU is visible (torch.cuda.is_available() is False); use '
              '--dry-run to check the script on a CPU.', file=sys.stderr)
        return 2
    else:
        device = torch.device('cuda')
        torch.backends.cudnn.benchmark = True
    setup_cpu_math()
    name = torch.cuda.get_device_name(0) if device.type == 'cuda' else \
        f'CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)'
    result = {'device': name, 'dry_run': args.dry_run, 'torch': torch.__version__,
              'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version(),
              'python': platform.python_version(), 'warmup_steps': args.warmup,
              'timed_steps': args.steps}
    print(f'device check on {name} | torch {torch.__version__} | CUDA {torch.version.cuda}'
          f'{" | DRY RUN (CPU, tiny config): not GPU numbers" if args.dry_run else ""}')

    # The tests get at most a third of the budget; the measurements need the rest.
    result['tests'] = run_cuda_tests(args.tests, args.budget_s / 3)
    print(f'CUDA-marked tests: {result["tests"]["status"]}'
          f'{" - " + result["tests"]["summary"] if "summary" in result["tests"] else ""}')
    if result['tests'].get('output_tail'):
        print(result['tests']['output_tail'])

    bench = Bench(device, args.warmup, args.steps,
                  compile_backend='eager' if args.dry_run else 'inductor')
    result['rows'] = measure(args, bench, deadline, lambda r: print(
        '  ' + ' '.join(f'{k}={v:.2f}' if isinstance(v, float) else f'{k}={v}'
                        for k, v in r.items()), flush=True))
    result['data_pipeline'] = run_data_pipeline(
        device.type, args.dry_run, min(90.0, deadline - time.perf_counter()))
    result['seconds'] = round(time.perf_counter() - start, 1)
    text = table(result['rows'])
    print(f'\nboxes/s ({name}; training: {args.warmup} warm-up + {args.steps} timed steps, '
          'MIPNet = 2 instances per box with shared trunk; inference: eval, no flip; '
          '"infer fuse_bn / compile": fp32, BatchNorm folded, channels_last, compiled; '
          f'"infer onnxruntime": the shared-trunk ONNX graph)\n{text}')
    for r in result['rows']:
        if 'setup_s' in r:
            print(f'  set-up of {r["config"]} {r["model"]} {r["kind"]}: {r["setup_s"]:.1f} s'
                  + (f' ({r["provider"]})' if 'provider' in r else ''))
    data = result['data_pipeline']
    print(f'\ndata pipeline ({data["status"]}): {data["command"]}\n{data.get("output", "")}')
    print(f'total {result["seconds"]} s')
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f'JSON written to {args.out}')
    failed = result['tests']['status'].startswith(('failed', 'timed out')) or \
        data['status'].startswith('failed')
    return 1 if failed or any(r['status'].startswith('error') for r in result['rows']) else 0


if __name__ == '__main__':
    sys.exit(main())
