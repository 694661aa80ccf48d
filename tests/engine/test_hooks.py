"""Training hooks (mipnet.engine.hooks): called in order at the loop's extension points,
with the trainer's state, the validation metrics and its result files in place."""
import json
import os

import pytest

from mipnet.config import load_config
from mipnet.engine.evaluate import (MERGED, InstanceMode, instance_modes, modes_of,
                                    results_file, results_file_name)
from mipnet.engine.hooks import Hook
from mipnet.engine.train import train
from tests.engine.conftest import TINY, tiny_opts


class Recorder(Hook):
    def __init__(self, calls):
        self.calls = calls

    def before_train(self, trainer):
        self.calls.append(('before_train', trainer.begin_epoch))

    def after_validation(self, trainer, epoch, metrics):
        path = results_file(trainer.output_dir, trainer.cfg.DATASET.TEST_SET, MERGED)
        with open(path) as f:
            results = json.load(f)
        # The history already holds this validation; its checkpoint is not written yet.
        self.calls.append(('after_validation', epoch, metrics['merged']['AP'],
                           trainer.history[-1], len(results),
                           os.path.isfile(trainer.checkpoint_path)))

    def after_epoch(self, trainer, epoch, stats):
        self.calls.append(('after_epoch', epoch, stats['loss']))

    def after_train(self, trainer, summary):
        self.calls.append(('after_train', summary['best_ap']))


class Second(Hook):
    """Does nothing but record that it ran after the first hook."""

    def __init__(self, calls):
        self.calls = calls

    def after_epoch(self, trainer, epoch, stats):
        self.calls.append(('second after_epoch', epoch))


def test_hooks_called_in_order_with_metrics_and_result_files(synthetic_root, tmp_path):
    calls = []
    cfg = load_config(TINY, tiny_opts(synthetic_root, tmp_path, 'TRAIN.END_EPOCH', '3',
                                      'EPOCH_EVAL_FREQ', '2'))
    summary = train(cfg, TINY, hooks=[Recorder(calls), Second(calls)])
    names = [c[0] for c in calls]
    # Validation is due after epochs 0 and 2 (epoch % 2 == 0, as the reference) and the last.
    assert names == ['before_train',
                     'after_validation', 'after_epoch', 'second after_epoch',
                     'after_epoch', 'second after_epoch',
                     'after_validation', 'after_epoch', 'second after_epoch',
                     'after_train']
    assert calls[0] == ('before_train', 0)
    validations = [c for c in calls if c[0] == 'after_validation']
    assert [v[1] for v in validations] == [0, 2]
    for (_, epoch, ap, last, num_results, _), hist in zip(validations, summary['history']):
        assert last == hist == {'epoch': epoch, 'ap': ap}
        assert num_results > 0
    # No checkpoint when epoch 0 is validated; the one of epoch 1 when epoch 2 is.
    assert [v[5] for v in validations] == [False, True]
    assert validations[-1][2] == summary['metrics']['merged']['AP']
    assert [c[2] for c in calls if c[0] == 'after_epoch'] == summary['epoch_losses']
    assert calls[-1] == ('after_train', summary['best_ap'])


def test_hooks_must_be_hook_objects(synthetic_root, tmp_path):
    cfg = load_config(TINY, tiny_opts(synthetic_root, tmp_path, 'TRAIN.END_EPOCH', '1'))
    with pytest.raises(TypeError, match='Hook objects, got function'):
        train(cfg, TINY, hooks=[lambda trainer: None])


def test_instance_modes_and_results_file_names():
    assert [m.key for m in instance_modes(1)] == ['merged']
    modes = instance_modes(2)
    assert [m.key for m in modes] == ['merged', 'instance 0', 'instance 1']
    assert [m.instances for m in modes] == [None, [0], [1]]
    assert modes_of({'merged': {}, 'instance 0': {}, 'instance 1': {}}) == modes
    assert modes_of({'merged': {}}) == [MERGED]
    with pytest.raises(ValueError, match='not a metrics dict'):
        modes_of({'instance 0': {}})
    assert results_file_name('val2017') == 'keypoints_val2017_results_merged.json'
    assert results_file('out', 'val', InstanceMode(1)) == \
        os.path.join('out', 'results', 'keypoints_val_results_instance1.json')
