"""Command-line front ends of ``tools/train.py`` and ``tools/test.py``.

Both take ``--cfg FILE`` and trailing ``KEY VALUE`` overrides, plus the Ascend model-zoo
options (``--data_path``, ``--local_rank``, ``--is_distributed``, ``--check_point``,
``--pth_path``). Expected failures (bad config, data, checkpoint, non-finite loss) end with
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


def train_main(argv=None):
    """Entry point of tools/train.py."""
    parser = _parser('Train MIPNet / HRNet (single process or under torchrun).')
    parser.add_argument('--check_point', '--resume', default='',
                        help='resume the full training state from this checkpoint')
    parser.add_argument('--pth_path', default='',
                        help='fine-tune: initialise the weights from this checkpoint')
    parser.add_argument('--max_steps', type=int, default=0,
                        help='performance mode: stop after this many steps, skip validation')
    args = parser.parse_args(argv)

    def run():
        from mipnet.engine.train import train
        extra = ['TRAIN.MAX_STEPS', str(args.max_steps)] if args.max_steps else []
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
