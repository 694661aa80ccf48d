"""``torch.compile`` that keeps the eager module when compiling fails (``TEST.COMPILE``,
``TRAIN.COMPILE``).

Compilation happens at the first call (and again for new input shapes), so a missing C++
compiler, an unsupported op or a backend bug shows up there: :class:`CompiledModule` then
logs one warning and runs the eager module from then on.
"""
import logging
import time

import torch
from torch import nn

logger = logging.getLogger(__name__)

__all__ = ['CompiledModule', 'COMPILE_ERRORS']

#: what a failed compilation raises in the forward call (dynamo wraps the backend's error)
COMPILE_ERRORS = (torch._dynamo.exc.TorchDynamoException,)
#: the ``torch.compile`` backend of :class:`CompiledModule` when none is given
BACKEND = 'inductor'


class CompiledModule(nn.Module):
    """``module`` run through ``torch.compile``; the eager ``module`` once compiling failed.

    Args:
        module: the network (its parameters stay those of ``module``: the optimizer, the
            state_dict and checkpoints see no ``_orig_mod`` prefix).
        what: name of the module in the warning ('inference model', 'training model').
        backend: ``torch.compile`` backend (None: :data:`BACKEND`).
        freeze: inductor's ``freezing`` (weights folded into the graph as constants, for
            inference under ``torch.no_grad``; later weight changes are not seen).
        dynamic: ``torch.compile``'s ``dynamic`` (None: static first, dynamic after a new
            shape).

    Attributes:
        module: the eager module (``mipnet.evaluation.inference.unwrap`` reaches it).
        error: None, or the one-line reason compiling failed.
        compile_seconds: wall time of the calls that compiled (the first call of each
            new input shape), for the logs and benchmarks.
    """

    def __init__(self, module, what='model', backend=None, freeze=False, dynamic=None):
        super().__init__()
        self.module = module
        self.what = what
        backend = backend or BACKEND
        options = {'freezing': True} if freeze and backend == 'inductor' else None
        # Not a registered submodule: state_dict() and parameters() stay the module's.
        self.__dict__['_compiled'] = torch.compile(module, backend=backend, dynamic=dynamic,
                                                   options=options)
        self.error = None
        self.compile_seconds = 0.0
        self._calls = 0

    @property
    def compiled(self):
        """True while the compiled module runs (no failure so far)."""
        return self.error is None

    def fall_back(self, exc):
        """Run eagerly from now on; logs one warning naming ``exc``."""
        if self.error is not None:
            return
        lines = []
        for line in str(exc).splitlines():
            if line.startswith('Set TORCHDYNAMO_VERBOSE'):
                break
            lines += [line.strip()] if line.strip() else []
        self.error = f'{type(exc).__name__}: {" ".join(lines)}'[:300]
        logger.warning('torch.compile of the %s failed (%s); running it eagerly instead',
                       self.what, self.error)

    def forward(self, *args, **kwargs):
        if self.error is None:
            start = time.perf_counter()
            cache = _cache_entries()
            try:
                out = self._compiled(*args, **kwargs)
            except COMPILE_ERRORS as exc:
                self.fall_back(exc)
            else:
                if _cache_entries() != cache:
                    self.compile_seconds += time.perf_counter() - start
                return out
        return self.module(*args, **kwargs)


def _cache_entries():
    """Number of graphs dynamo compiled so far in this process (a new one means the last
    call compiled)."""
    return torch._dynamo.utils.counters['stats'].get('unique_graphs', 0)
