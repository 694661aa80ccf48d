"""Run logging: one log file per run on rank 0, console on rank 0, warnings only elsewhere."""
import logging
import os
import sys
import time

FORMAT = '%(asctime)s %(levelname)s %(message)s'


def setup_logging(output_dir=None, phase='train', rank=0):
    """Configure the root logger; returns the log file path (None when not rank 0).

    Rank 0 logs INFO to the console and to ``<output_dir>/<phase>_<time>.log``; other ranks
    log warnings only, so a failing rank still explains itself.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter(FORMAT if rank == 0 else f'[rank {rank}] {FORMAT}'))
    root.addHandler(console)
    if rank != 0 or not output_dir:
        return None
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, f'{phase}_{time.strftime("%Y-%m-%d-%H-%M-%S")}.log')
    file_handler = logging.FileHandler(path)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(file_handler)
    return path


class AverageMeter:
    """Running average of a scalar."""

    def __init__(self):
        self.val = self.sum = self.avg = 0.0
        self.count = 0

    def update(self, val, n=1):
        self.val = float(val)
        self.sum += float(val) * n
        self.count += n
        self.avg = self.sum / max(self.count, 1)
