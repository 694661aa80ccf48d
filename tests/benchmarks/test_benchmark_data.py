"""benchmarks/benchmark_data.py on the fixtures, small: the three paths give the same images
and targets, every rate is printed, for training and for evaluation items."""
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = REPO / 'benchmarks' / 'benchmark_data.py'


@pytest.mark.parametrize('split, same', [
    ('train', 'max |diff| images 0, targets 0, weights 0'),
    ('val', 'max |diff| images 0'),
])
def test_three_paths_agree_and_are_timed(tmp_path, split, same):
    proc = subprocess.run([sys.executable, str(SCRIPT), '--split', split, '--rounds', '1',
                           '--samples', '16', '--batch-size', '8', '--workers', '0', '1',
                           '--cold'], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert out.count(f'{same}\n') == 2
    assert re.search(r'image cache of 4 images built in [\d.]+ s, 2\.8 MiB', out)
    rows = re.findall(r'^fixtures/coco +(\d) +([\d.]+) +([\d.]+) +([\d.]+) .* ([\d.]+)x +'
                      r'([\d.]+)x +([\d.]+)$', out, re.M)
    assert [r[0] for r in rows] == ['0', '1']
    for _, old, new, cached, ratio, cached_ratio, decode in rows:
        assert float(old) > 0 and float(new) > 0 and float(cached) > 0 and float(decode) > 0
        # The printed rates are rounded; the ratios come from the unrounded ones (a rate of
        # 4.9 printed may be 4.85-4.95: 1 % on the ratio).
        assert float(ratio) == pytest.approx(float(new) / float(old), rel=0.02, abs=0.01)
        assert float(cached_ratio) == pytest.approx(float(cached) / float(old), rel=0.02,
                                                    abs=0.01)



def test_items_mode_times_training_and_evaluation_items(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), '--items', '--rounds', '1',
                           '--samples', '8', '--sets', 'coco', 'ochuman'], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = re.findall(r'^fixtures/(\w+) +(decode|cache) +([\d.]+) +([\d.]+) +([\d.]+) +'
                      r'([\d.]+) +([\d.]+)x +([\d.]+)x$', proc.stdout, re.M)
    assert [(r[0], r[1]) for r in rows] == [('coco', 'decode'), ('coco', 'cache'),
                                            ('ochuman', 'decode'), ('ochuman', 'cache')]
    for *_, train, _, before, now, vs_train, vs_before in rows:
        assert min(map(float, (train, before, now))) > 0
        assert float(vs_train) == pytest.approx(float(now) / float(train), abs=0.01)
        assert float(vs_before) == pytest.approx(float(now) / float(before), abs=0.01)
