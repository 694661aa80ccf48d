"""Progress lines for logs and CI (stdout not a terminal): every ~10 % or 30 s, with
done/total, rate and ETA; a tqdm bar on a terminal."""
import logging

import pytest

from mipnet.utils.progress import Progress, format_duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == 'progress-test']


def test_format_duration():
    assert format_duration(4.4) == '4 s'
    assert format_duration(65) == '1 min 05 s'
    assert format_duration(2 * 3600 + 7 * 60 + 3) == '2 h 07 min'


def test_a_line_every_tenth_with_rate_and_eta_then_a_final_line(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    bar = Progress(200, 'eval', unit='boxes', isatty=False, clock=clock,
                   logger=logging.getLogger('progress-test'))
    for _ in range(100):  # 2 boxes per second of the fake clock
        clock.now += 1.0
        bar.update(2)
    bar.close()
    bar.close()  # a second close writes nothing more
    lines = _lines(caplog)
    assert len(lines) == 10  # 10 %, 20 %, ... 90 %, then the final line
    assert lines[0] == 'eval: 20/200 boxes (10%), 2.0 boxes/s, ETA 1 min 30 s'
    assert lines[4] == 'eval: 100/200 boxes (50%), 2.0 boxes/s, ETA 50 s'
    assert lines[-1] == 'eval: 200/200 boxes (100%), 2.0 boxes/s, took 1 min 40 s'


def test_a_line_at_least_every_30_seconds(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    bar = Progress(1000, 'epoch 0', unit='steps', isatty=False, clock=clock,
                   logger=logging.getLogger('progress-test'))
    for _ in range(7):  # one step every 20 s: far below 10 % per 30 s
        clock.now += 20.0
        bar.update()
    lines = _lines(caplog)
    # after 40 s (30 s passed since the start), then after 80 s (40 s since the last line)...
    assert [line.split(',')[0] for line in lines] == [
        'epoch 0: 2/1000 steps (0%)', 'epoch 0: 4/1000 steps (0%)', 'epoch 0: 6/1000 steps (1%)']
    assert lines[0].endswith('ETA 5 h 32 min')


@pytest.mark.parametrize('isatty, enabled', [(True, True), (False, False)])
def test_no_lines_on_a_terminal_or_when_disabled(caplog, isatty, enabled):
    caplog.set_level(logging.INFO)
    with Progress(10, 'eval', isatty=isatty, enabled=enabled,
                  logger=logging.getLogger('progress-test')) as bar:
        assert bar.bar.disable is not (isatty and enabled)  # the tqdm bar: terminals only
        for _ in range(10):
            bar.update()
    assert _lines(caplog) == []


def test_unknown_total_has_no_percent_or_eta(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    bar = Progress(0, 'eval', unit='boxes', isatty=False, clock=clock,
                   logger=logging.getLogger('progress-test'))
    clock.now = 10.0
    bar.update(5)
    bar.close()
    assert _lines(caplog) == ['eval: 5 boxes, 0.5 boxes/s']
