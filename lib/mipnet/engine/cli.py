"""Command-line front ends of ``tools/train.py`` and ``tools/test.py``.

Both take ``--cfg FILE`` and trailing ``KEY VALUE`` overrides, plus the options of the
Ascend model-zoo port's README and launchers (``--data_path``, ``--workers``, ``--local_rank``,
``--is_distributed``; for training also ``--check_point``, ``--pth_path``, ``--perf``,
``--amp``, ``--batch_size``, ``--epochs``, ``--lr`` and the distributed/apex options that
torchrun and native AMP make moot). Expected failures (bad config, data, checkpoint, non-finite loss) end with
one ``error:`` line and exit status 1 instead of a traceback.
"""
import argparse
import errno
import sys

import torch.distributed

from mipnet.config import ConfigError, load_config
from mipnet.data import DataError
from mipnet.utils.checkpoint import CheckpointError
from mipnet.utils.dist import DeviceError


def _parser(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--cfg', required=True, help='experiment YAML file')
    parser.add_argument('--data_path', '--data-path', default='',
                        help='dataset root (sets DATASET.ROOT)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None,
                        help='device index of this process (torchrun sets LOCAL_RANK)')
    parser.add_argument('--is_distributed', type=int, default=None,
                        help='accepted for the model-zoo scripts; torchrun decides')
    parser.add_argument('--device', default='', help='auto, npu, cuda or cpu (sets DEVICE)')
    parser.add_argument('--workers', '-j', type=int, default=None,
                        help='data-loader workers per rank (sets WORKERS)')
    parser.add_argument('opts', nargs=argparse.REMAINDER, help='KEY VALUE config overrides')
    return parser


def _load(args, extra=()):
    opts = list(args.opts)
    if opts[:1] == ['--']:
        opts = opts[1:]
    if args.data_path:
        opts += ['DATASET.ROOT', args.data_path]
    if args.device:
        opts += ['DEVICE', args.device]
    if args.workers is not None:
        opts += ['WORKERS', str(args.workers)]
    return load_config(args.cfg, opts + list(extra))


def _one_line(exc):
    """The message of ``exc`` as one line. An error raised in a DataLoader worker is re-raised
    in the main process with the worker's traceback as its message ("Caught DataError in
    DataLoader worker process 0. Original Traceback ..."); only its final message is kept."""
    text = str(exc)
    if 'Original Traceback' in text:
        last = text.rstrip().splitlines()[-1]
        text = last.split(': ', 1)[1] if ': ' in last else last
    return ' '.join(line.strip() for line in text.splitlines() if line.strip())


def _run(fn):
    from mipnet.engine.preflight import PreflightError
    from mipnet.engine.train import NonFiniteLossError
    try:
        return fn()
    except (ConfigError, DataError, CheckpointError, NonFiniteLossError, DeviceError,
            PreflightError, FileNotFoundError) as exc:
        print(f'error: {_one_line(exc)}', file=sys.stderr)
        sys.exit(1)
    except OSError as exc:
        # A write (or read) the preflight could not foresee: one line with path and cause.
        cause = exc.strerror or _one_line(exc)
        if exc.errno in errno.errorcode:
            cause += f' ({errno.errorcode[exc.errno]})'
        where = f'{exc.filename}: ' if exc.filename else ''
        print(f'error: {where}{cause}', file=sys.stderr)
        sys.exit(1)
    except torch.distributed.DistBackendError as exc:
        print(f'error: a collective with the other ranks failed (a peer died or DIST_TIMEOUT '
              f'passed); see the failing rank\'s log. {_one_line(exc)[:300]}', file=sys.stderr)
        sys.exit(1)


def _flag(value):
    """0/1 (also false/true, off/on) of an option that may be given bare (``--amp``)."""
    text = str(value).strip().lower()
    if text in ('1', 'true', 'on', 'yes'):
        return True
    if text in ('0', 'false', 'off', 'no'):
        return False
    raise argparse.ArgumentTypeError(f'expected 0 or 1, got {value!r}')


# Options of the Ascend model-zoo port's README and launchers (and of HRNet's train.py) that
# have no effect here: torchrun's environment decides ranks and addresses, and native AMP
# replaces apex (its opt level and loss scale).
_ACCEPTED_ONLY = ('--device_id', '--device_list', '--world_size', '--world-size', '--rank',
                  '--dist_url', '--dist-url', '--dist_backend', '--dist-backend', '--addr',
                  '--port', '--gpu', '--gpus', '--opt_level', '--opt-level', '--loss_scale',
                  '--loss-scale', '--modelDir', '--logDir', '--dataDir', '--prevModelDir')


def train_options(argv=None):
    """Parse tools/train.py's arguments.

    Returns:
        (argparse namespace, list of ``KEY VALUE`` overrides the options stand for).
    """
    parser = _parser('Train MIPNet / HRNet (single process or under torchrun).')
    parser.add_argument('--check_point', '--resume', default='',
                        help='resume the full training state from this checkpoint (this '
                             "project's, the reference's or the Ascend port's)")
    parser.add_argument('--pth_path', default='',
                        help='fine-tune: initialise the weights from this checkpoint (strict)')
    parser.add_argument('--init_checkpoint', default='',
                        help='initialise from an HRNet or MIPNet checkpoint, λ blocks fresh '
                             '(sets TRAIN.INIT_CHECKPOINT)')
    parser.add_argument('--max_steps', type=int, default=0,
                        help='performance mode: stop after this many steps, skip validation')
    parser.add_argument('--perf', type=_flag, nargs='?', const=True, default=False,
                        help='Ascend option: 1 = performance mode (--perf_steps steps)')
    parser.add_argument('--perf_steps', type=int, default=781,
                        help='steps of --perf 1 (default 781, the Ascend port'"'"'s 8p run)')
    parser.add_argument('--amp', type=_flag, nargs='?', const=True, default=None,
                        help='mixed precision on (1) or off (0) (sets TRAIN.AMP)')
    parser.add_argument('--batch_size', '--batch-size', type=int, default=None,
                        help='boxes per device (sets TRAIN.BATCH_SIZE_PER_GPU)')
    parser.add_argument('--epochs', type=int, default=None, help='sets TRAIN.END_EPOCH')
    parser.add_argument('--lr', type=float, default=None, help='sets TRAIN.LR')
    parser.add_argument('--seed', type=int, default=None, help='sets SEED')
    for name in _ACCEPTED_ONLY:
        parser.add_argument(name, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.max_steps or (args.perf_steps if args.perf else 0)
    extra = ['TRAIN.MAX_STEPS', str(steps)] if steps else []
    for key, value in (('TRAIN.AMP', args.amp),
                       ('TRAIN.BATCH_SIZE_PER_GPU', args.batch_size),
                       ('TRAIN.END_EPOCH', args.epochs), ('TRAIN.LR', args.lr),
                       ('SEED', args.seed),
                       ('TRAIN.INIT_CHECKPOINT', args.init_checkpoint or None)):
        if value is not None:
            extra += [key, str(value)]
    return args, extra


def train_main(argv=None):
    """Entry point of tools/train.py."""
    args, extra = train_options(argv)

    def run():
        from mipnet.engine.train import train
        cfg = _load(args, extra)
        return train(cfg, args.cfg, resume_file=args.check_point or None,
                     finetune_file=args.pth_path or None, local_rank=args.local_rank)
    return _run(run)


def eval_main(argv=None):
    """Entry point of tools/test.py: evaluate ``TEST.MODEL_FILE``."""
    parser = _parser('Evaluate a MIPNet / HRNet checkpoint (TEST.MODEL_FILE).')
    parser.add_argument('--model_file', '--pth_path', default='',
                        help='checkpoint to evaluate (sets TEST.MODEL_FILE)')
    args = parser.parse_args(argv)

    def run():
        from mipnet.engine.test import evaluate_checkpoint
        extra = ['TEST.MODEL_FILE', args.model_file] if args.model_file else []
        cfg = _load(args, extra)
        return evaluate_checkpoint(cfg, args.cfg, local_rank=args.local_rank)
    return _run(run)
