"""Progress of long loops (evaluation, training epochs): a tqdm bar on a terminal, and for
logs and CI, where stdout is not a terminal, a line every ~10 % or 30 s with done/total,
rate and ETA."""
import logging
import os
import time

from tqdm import tqdm

__all__ = ['Progress', 'format_duration']


def format_duration(seconds):
    """'45 s', '3 min 05 s', '2 h 07 min' (rounded to whole seconds)."""
    seconds = int(round(max(0.0, float(seconds))))
    if seconds < 60:
        return f'{seconds} s'
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f'{minutes} min {seconds:02d} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes:02d} min'


class Progress:
    """Progress of ``total`` units of work.

    On a terminal (``isatty``, default: stdout is one) it is a tqdm bar, as before; otherwise
    it logs ``<desc>: <done>/<total> <unit> (<percent>), <rate> <unit>/s, ETA <time>`` each
    time another ``fraction`` of the total is done or ``interval`` seconds have passed since
    the last line, and once at the end. Nothing is shown when ``enabled`` is false (ranks
    other than 0, internal re-evaluations).

    Args:
        total: units to do (0 or less: unknown; then no percent and no ETA).
        desc: what is being done, the start of every line ('eval', 'epoch 3').
        unit: name of a unit ('boxes', 'steps').
        enabled: show anything at all.
        logger: where the lines go (default: this module's logger, at INFO).
        fraction: share of the total between two lines (0.1: every 10 %).
        interval: most seconds between two lines.
        isatty: force the terminal / log decision (default ``os.isatty(1)``).
        clock: seconds since some start (default ``time.monotonic``; tests pass a fake).
    """

    def __init__(self, total, desc, unit='it', enabled=True, logger=None, fraction=0.1,
                 interval=30.0, isatty=None, clock=time.monotonic):
        self.total = int(total or 0)
        self.desc, self.unit = desc, unit
        self.logger = logger or logging.getLogger(__name__)
        self.fraction, self.interval = float(fraction), float(interval)
        self.clock = clock
        self.done = 0
        terminal = os.isatty(1) if isatty is None else bool(isatty)
        self.bar = tqdm(total=self.total or None, desc=desc, unit=unit, leave=False,
                        dynamic_ncols=True, disable=not (enabled and terminal))
        self.lines = enabled and not terminal
        self.start = self.last_time = clock()
        self.next_done = self._step()
        self.closed = False

    def _step(self):
        """The count at which the next fraction of the total is done."""
        if self.total <= 0:
            return float('inf')
        every = max(1, int(round(self.fraction * self.total)))
        return (self.done // every + 1) * every

    def update(self, n=1):
        """``n`` more units done."""
        self.done += int(n)
        self.bar.update(n)
        if not self.lines:
            return
        now = self.clock()
        if (self.done >= self.next_done or now - self.last_time >= self.interval) \
                and not (self.total > 0 and self.done >= self.total):
            self._line(now)

    def line(self, now=None):
        """The progress line for the current count (what :meth:`update` logs)."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total > 0:
            text = (f'{self.desc}: {self.done}/{self.total} {self.unit} '
                    f'({100.0 * self.done / self.total:.0f}%), {rate:.1f} {self.unit}/s')
            if self.done < self.total:
                eta = (self.total - self.done) / rate if rate > 0 else float('inf')
                text += ', ETA ' + (format_duration(eta) if eta != float('inf') else 'unknown')
            else:
                text += f', took {format_duration(elapsed)}'
            return text
        return f'{self.desc}: {self.done} {self.unit}, {rate:.1f} {self.unit}/s'

    def _line(self, now):
        self.logger.info('%s', self.line(now))
        self.last_time = now
        self.next_done = self._step()

    def close(self):
        """End the bar; in log mode write the final line (once, if anything was done)."""
        if self.closed:
            return
        self.closed = True
        self.bar.close()
        if self.lines and self.done > 0:
            self._line(self.clock())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
