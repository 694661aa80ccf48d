"""Extension points of the training loop, in the spirit of detectron2's hooks: code that
needs to act during training (record extra metrics after each validation, stop early, log
elsewhere) passes :class:`Hook` objects to :class:`mipnet.engine.train.Trainer` (or
:func:`mipnet.engine.train.train`) instead of patching the loop.

Every hook's method is called in the order the hooks were given. The trainer is passed in
so that a hook may read its state (``cfg``, ``model``, ``output_dir``, ``valid_loader``,
``history``, ``best_perf`` ...); hooks should not replace that state.
"""


class Hook:
    """Base class of training hooks; every method does nothing unless overridden."""

    def before_train(self, trainer):
        """Called once on every rank, before the first epoch of :meth:`Trainer.fit`."""

    def after_epoch(self, trainer, epoch, stats):
        """Called on every rank after epoch ``epoch`` (0-based) was trained, validated when
        due and checkpointed. ``stats``: that epoch's training statistics ('loss',
        'accuracy', 'steady_samples_per_s')."""

    def after_validation(self, trainer, epoch, metrics):
        """Called on the main process after each validation of epoch ``epoch`` (before its
        checkpoint is written), with the metrics validation returned: mode ('merged',
        'instance 0', ...) -> metric name -> float. The result files of this validation are
        in ``trainer.output_dir`` (:func:`mipnet.engine.evaluate.results_file`)."""

    def after_train(self, trainer, summary):
        """Called once on every rank at the end of :meth:`Trainer.fit`, with the summary
        dict it returns."""


def call_hooks(hooks, method, *args):
    """Call ``method`` of every hook in ``hooks`` with ``args``."""
    for hook in hooks:
        getattr(hook, method)(*args)
