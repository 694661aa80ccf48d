"""TEST-ONLY fault injector: runs ``tools/train.py`` / ``tools/test.py`` with faults.

    python tests/reliability/fault_wrapper.py train|test [CLI arguments ...]

Nothing in the library knows about it: the faults are monkeypatches installed here, before
the real command-line entry point (:mod:`mipnet.cli.train_test`) runs, selected by environment
variables (all optional; epochs are 0-based like the training log):

``MIPNET_FAULT_SAVE_PAUSE_EPOCH=E``
    while writing the training checkpoint of epoch E (the one holding ``'epoch': E + 1``):
    write the first half of its bytes to the open file, fsync, touch
    ``MIPNET_FAULT_MARKER`` and sleep (``HANG_S``), so a test can SIGKILL the process mid-write.
``MIPNET_FAULT_PAUSE_AFTER_EPOCH=E``
    after ``Trainer.save`` of epoch E returned: touch the marker and sleep (kill point
    "after epoch E").
``MIPNET_FAULT_BEST_PAUSE_EPOCH=E``
    after checkpoint.pth of epoch E is written, before model_best.pth is: touch the marker
    and sleep (kill point "between the two saves").
``MIPNET_FAULT_NAN=E:S``
    ``compute_loss`` returns a NaN loss at epoch E, step S.
``MIPNET_FAULT_RANK_EXIT=R:E`` / ``MIPNET_FAULT_RANK_HANG=R:E``
    at the start of epoch E, rank R calls ``os._exit(1)`` / sleeps (a dead or hung peer).
"""
import io
import os
import signal
import sys
import time

import torch

HANG_S = 120       # longer than any test waits; tests kill the process first


def _pause():
    marker = os.environ.get('MIPNET_FAULT_MARKER')
    if marker:
        with open(marker, 'w') as f:
            f.write(str(os.getpid()))
    time.sleep(HANG_S)
    os._exit(3)   # never reached in the tests: they kill the process first


def _pair(name):
    value = os.environ.get(name)
    return tuple(int(v) for v in value.split(':')) if value else None


def install(setattr=setattr):
    """Install the faults selected by the environment; ``setattr`` may be pytest's
    ``monkeypatch.setattr`` so that in-process tests undo them."""
    import mipnet.engine.train as train_mod

    save_epoch = os.environ.get('MIPNET_FAULT_SAVE_PAUSE_EPOCH')
    if save_epoch is not None:
        target = int(save_epoch) + 1
        real_save = torch.save

        def save(obj, f, *args, **kwargs):
            if isinstance(obj, dict) and obj.get('epoch') == target and 'optimizer' in obj:
                buf = io.BytesIO()
                real_save(obj, buf, *args, **kwargs)
                data = buf.getvalue()
                out = f if hasattr(f, 'write') else open(f, 'wb')
                out.write(data[:len(data) // 2])
                out.flush()
                os.fsync(out.fileno())
                _pause()
            return real_save(obj, f, *args, **kwargs)
        setattr(torch, 'save', save)

    after_epoch = os.environ.get('MIPNET_FAULT_PAUSE_AFTER_EPOCH')
    if after_epoch is not None:
        real_trainer_save = train_mod.Trainer.save

        def trainer_save(self, epoch, ap):
            real_trainer_save(self, epoch, ap)
            if epoch == int(after_epoch):
                _pause()
        setattr(train_mod.Trainer, 'save', trainer_save)

    state = {'epoch': None, 'step': 0}
    real_epoch = train_mod.Trainer.train_one_epoch
    exit_at, hang_at = _pair('MIPNET_FAULT_RANK_EXIT'), _pair('MIPNET_FAULT_RANK_HANG')

    def train_one_epoch(self, epoch):
        state['epoch'], state['step'] = epoch, 0
        if exit_at == (self.rank, epoch):
            os._exit(1)
        if hang_at == (self.rank, epoch):
            time.sleep(HANG_S)
        return real_epoch(self, epoch)
    setattr(train_mod.Trainer, 'train_one_epoch', train_one_epoch)

    best_epoch = os.environ.get('MIPNET_FAULT_BEST_PAUSE_EPOCH')
    if best_epoch is not None:
        real_save_atomic = train_mod.save_atomic

        def save_atomic(obj, path):
            if os.path.basename(path) == 'model_best.pth' and state['epoch'] == int(best_epoch):
                _pause()
            return real_save_atomic(obj, path)
        setattr(train_mod, 'save_atomic', save_atomic)

    nan_at = _pair('MIPNET_FAULT_NAN')
    if nan_at is not None:
        real_loss = train_mod.compute_loss

        def compute_loss(*args, **kwargs):
            loss, output = real_loss(*args, **kwargs)
            if (state['epoch'], state['step']) == nan_at:
                loss = loss * float('nan')
            state['step'] += 1
            return loss, output
        setattr(train_mod, 'compute_loss', compute_loss)


if __name__ == '__main__':
    # Ctrl-C of a terminal even where the test process was started with SIGINT ignored
    # (a background job of a non-interactive shell), which its children would inherit.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command, argv = sys.argv[1], sys.argv[2:]
    install()
    from mipnet.cli import train_test as cli
    sys.argv = [f'tools/{command}.py'] + argv
    (cli.train_main if command == 'train' else cli.eval_main)(argv)
