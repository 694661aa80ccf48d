"""Helpers of the reliability tests: tiny training runs on the real COCO fixture, run as
subprocesses (``tools/*.py`` or the test-only ``fault_wrapper.py``) with hard timeouts, or
in this process through the same command-line entry points (cheaper: no torch import)."""
import contextlib
import faulthandler
import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import FIXTURES, REPO

PYTHON = sys.executable
WRAPPER = str(Path(__file__).with_name('fault_wrapper.py'))
TINY = str(REPO / 'experiments' / 'synthetic' / 'tiny_mipnet.yaml')
RUN_TIMEOUT = 90


def coco_opts(out_dir, image_dir=None, ann_file=None, test_image_dir=None, test_ann_file=None):
    """Overrides training and validating the tiny model on the 4-image COCO fixture."""
    coco = FIXTURES / 'coco'
    image_dir = str(image_dir or coco)
    ann_file = str(ann_file or coco / 'test_coco.json')
    return ['DATASET.TRAIN_IMAGE_DIR', image_dir, 'DATASET.TRAIN_ANNOTATION_FILE', ann_file,
            'DATASET.TEST_IMAGE_DIR', str(test_image_dir or image_dir),
            'DATASET.TEST_ANNOTATION_FILE', str(test_ann_file or ann_file),
            'OUTPUT_DIR', str(out_dir), 'LOG_DIR', str(Path(out_dir) / 'log'),
            'TRAIN.BATCH_SIZE_PER_GPU', '4', 'DEVICE', 'cpu']


def run_dir(out_dir):
    """Run folder of the tiny config under OUTPUT_DIR ``out_dir``."""
    return Path(out_dir) / 'synthetic' / 'pose_hrnet_se_lambda' / 'tiny_mipnet'


def child_env(**faults):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.pop('MIPNET_FAULT_MARKER', None)
    env.update({k: str(v) for k, v in faults.items()})
    return env


def descendants(pid):
    """Process ids below ``pid`` (torchrun starts its workers in sessions of their own, so
    killing the launcher's process group does not reach them)."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def run(args, timeout=RUN_TIMEOUT, env=None):
    """Run ``python args...`` in the repository; never hangs: after ``timeout`` seconds the
    process and everything it started are killed and the test fails."""
    proc = subprocess.Popen([PYTHON] + [str(a) for a in args], cwd=REPO,
                            env=env or child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in descendants(proc.pid) + [proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out, err = proc.communicate()
        pytest.fail(f'{" ".join(map(str, args[:4]))} ... did not finish within {timeout} s '
                    f'(killed):\n{err[-3000:]}')
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def start(args, env, stdout_path):
    """Start ``python args...`` in its own process group, output into ``stdout_path``."""
    out = open(stdout_path, 'w')
    proc = subprocess.Popen([PYTHON] + [str(a) for a in args], cwd=REPO, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    return proc


def wait_for(path, proc, timeout=RUN_TIMEOUT, log=None):
    """Wait until ``path`` exists; fail (killing ``proc``) if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            text = Path(log).read_text() if log else ''
            pytest.fail(f'process exited ({proc.returncode}) before {path} appeared:\n'
                        f'{text[-3000:]}')
        if time.monotonic() > deadline:
            kill(proc)
            pytest.fail(f'{path} did not appear within {timeout} s')
        time.sleep(0.05)


def kill(proc):
    """SIGKILL the process group of ``proc`` and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


class Result:
    """What :func:`subprocess.run` returns, for in-process runs."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_in_process(command, argv):
    """``tools/<command>.py argv`` in this process (single-threaded like the subprocesses);
    restores the global state the run changes (logging, determinism flags, threads)."""
    from mipnet.cli import train_test as cli
    main = cli.train_main if command == 'train' else cli.eval_main
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    out, err = io.StringIO(), io.StringIO()
    code = 0
    torch.set_num_threads(1)
    # Never a hang: a run stuck for RUN_TIMEOUT s ends pytest with every thread's traceback.
    faulthandler.dump_traceback_later(RUN_TIMEOUT, exit=True)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in argv])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:     # an unexpected exception = the CLI's bare traceback
                import traceback
                traceback.print_exc()
                code = 1
    finally:
        faulthandler.cancel_dump_traceback_later()
        for handler in list(root.handlers):
            root.removeHandler(handler)
            if handler not in handlers:
                handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    return Result(code, out.getvalue(), err.getvalue())


def error_lines(stderr):
    """Lines of stderr that are ours (OpenCV prints its own '[ WARN' lines)."""
    return [line for line in stderr.splitlines() if line.strip() and '[ WARN' not in line]


def assert_one_error(result, *fragments):
    """Exit status 1, no traceback, exactly one ``error:`` line holding every fragment."""
    lines = error_lines(result.stderr)
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
