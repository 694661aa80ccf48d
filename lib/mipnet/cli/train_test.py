"""Command-line front ends of ``tools/train.py`` and ``tools/test.py``.

Both take ``--cfg FILE`` and trailing ``KEY VALUE`` overrides, plus the options of the
Ascend model-zoo port's README and launchers (``--data_path``, ``--workers``, ``--local_rank``,
``--is_distributed``; for training also ``--check_point``, ``--pth_path``, ``--perf``,
``--amp``, ``--batch_size``, ``--epochs``, ``--lr`` and the distributed/apex options that
torchrun and native AMP make moot); the parsers are in :mod:`mipnet.cli.parsers`. Expected
failures (bad config, data, checkpoint, non-finite loss) end with one ``error:`` line and
exit status 1 instead of a traceback; Ctrl-C ends with one line (for training: where the
last checkpoint is) and exit status 130.
"""
import errno
import os
import sys

import torch.distributed

from mipnet.cli.parsers import eval_parser, train_parser
from mipnet.config import ConfigError, load_config, run_output_dir
from mipnet.data import DataError
from mipnet.utils.checkpoint import CheckpointError
from mipnet.utils.dist import DeviceError
from mipnet.utils.files import FileWriteError


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


def _run(fn, interrupted):
    """``fn()``, with its expected failures as one ``error:`` line and exit status 1, and
    Ctrl-C as one line from ``interrupted()`` and exit status 130 (128 + SIGINT, as a
    shell reports it), never a traceback."""
    from mipnet.engine.preflight import PreflightError
    from mipnet.engine.train import NonFiniteLossError
    try:
        return fn()
    except KeyboardInterrupt:
        # Every rank of a torchrun job gets the terminal's SIGINT; rank 0 speaks for them.
        if os.environ.get('RANK', '0') == '0':
            print(f'error: {interrupted()}', file=sys.stderr)
        sys.exit(130)
    except (ConfigError, DataError, CheckpointError, NonFiniteLossError, DeviceError,
            PreflightError, FileNotFoundError, FileWriteError) as exc:
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


def train_options(argv=None):
    """Parse tools/train.py's arguments.

    Returns:
        (argparse namespace, list of ``KEY VALUE`` overrides the options stand for).
    """
    args = train_parser().parse_args(argv)
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


def _training_interrupted(cfg, cfg_file):
    """The line of a training run stopped by Ctrl-C: where its last checkpoint is."""
    if cfg is None:
        return 'interrupted (Ctrl-C) before training started'
    try:
        checkpoint = os.path.join(run_output_dir(cfg, cfg_file), 'checkpoint.pth')
    except ConfigError:
        return 'training interrupted (Ctrl-C)'
    if not os.path.isfile(checkpoint):
        return (f'training interrupted (Ctrl-C) before its first checkpoint; nothing was '
                f'saved to {checkpoint}')
    return (f'training interrupted (Ctrl-C); the last checkpoint is {checkpoint}: resume '
            f'from it with AUTO_RESUME True (or --check_point {checkpoint})')


def train_main(argv=None):
    """Entry point of tools/train.py."""
    args, extra = train_options(argv)
    loaded = {}

    def run():
        from mipnet.engine.train import train
        cfg = loaded['cfg'] = _load(args, extra)
        return train(cfg, args.cfg, resume_file=args.check_point or None,
                     finetune_file=args.pth_path or None, local_rank=args.local_rank)
    return _run(run, lambda: _training_interrupted(loaded.get('cfg'), args.cfg))


def eval_main(argv=None):
    """Entry point of tools/test.py: evaluate ``TEST.MODEL_FILE``."""
    args = eval_parser().parse_args(argv)

    def run():
        from mipnet.engine.test import evaluate_checkpoint
        extra = ['TEST.MODEL_FILE', args.model_file] if args.model_file else []
        if args.crowd_report:
            extra += ['TEST.CROWD_REPORT', 'True']
        cfg = _load(args, extra)
        return evaluate_checkpoint(cfg, args.cfg, local_rank=args.local_rank)
    return _run(run, lambda: 'evaluation interrupted (Ctrl-C); no metrics were written')


def train_command(argv=None):
    """Console script ``mipnet-train``: :func:`train_main`, exit status 0 (1 after an
    ``error:`` line)."""
    train_main(argv)
    return 0


def eval_command(argv=None):
    """Console script ``mipnet-test``: :func:`eval_main`, exit status 0 (1 after an
    ``error:`` line)."""
    eval_main(argv)
    return 0
