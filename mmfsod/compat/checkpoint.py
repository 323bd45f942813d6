"""Load mmengine checkpoints on torch >= 2.6 without disabling ``weights_only``.

Since torch 2.6, :func:`torch.load` defaults to ``weights_only=True``: it
unpickles tensors, containers and primitive types only, and refuses any other
class. mmengine 0.10.x calls ``torch.load(filename, map_location=...)`` and
its own checkpoints carry a few other classes (the message hub's
``HistoryBuffer`` of numpy arrays, ``collections.Counter`` milestones of the
multi-step LR schedulers, ...), so ``--resume``, ``load_from`` and
``tools/test.py`` fail.

The fix here is narrow: every load that goes through mmengine's
:class:`~mmengine.runner.CheckpointLoader` (all schemes: local, http,
open-mmlab://, ...) runs inside :func:`torch.serialization.safe_globals` with
exactly the classes in :data:`MMENGINE_CHECKPOINT_GLOBALS`. ``weights_only``
stays on: a checkpoint that holds any other pickled object is refused with an
:class:`UnsafeCheckpointError` that names the file and the object. Other
callers of :func:`torch.load` are not affected.

If you trust a checkpoint that carries another class of yours, add the class
with :func:`allow_checkpoint_globals` (e.g. in a module your config imports
through ``custom_imports``).
"""
import collections
import os
import pickle
import re
from typing import Callable, Iterable, List, Tuple, Union

import numpy as np
import torch

from .checkpoint_files import CorruptCheckpointError, checkpoint_problem, describe

# Classes and functions that mmengine's own checkpoints pickle besides
# tensors and plain containers.
MMENGINE_CHECKPOINT_GLOBALS: List[Union[Callable, Tuple[Callable, str]]] = []
_ACTIVE = False


# HistoryBuffer's default statistics (HistoryBuffer._set_default_statistics).
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name):
    """Stands in for ``builtins.getattr`` while unpickling a checkpoint.

    ``HistoryBuffer`` pickles its statistics methods (``min``, ``max``,
    ``mean``, ``current``, ...) by reference, which pickle writes as
    ``getattr(HistoryBuffer, 'min')``. Allowing ``getattr`` itself would let a
    checkpoint reach any attribute of any allowed object; this only returns
    the registered statistics methods of ``HistoryBuffer``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}): '
        'not an attribute mmengine checkpoints use')


def _default_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = [
        # MessageHub.state_dict()['log_scalars'] values; they hold numpy arrays
        # and their statistics methods (through a restricted getattr).
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        # MultiStepLR / MultiStepParamScheduler keep their milestones as a Counter.
        collections.Counter,
        collections.OrderedDict,
        collections.defaultdict,
        # numpy arrays and scalars (HistoryBuffer's history, runtime info).
        np.ndarray,
        np.dtype,
    ]
    # The numpy functions that reconstruct arrays and scalars live in
    # numpy.core (numpy < 2) or numpy._core (numpy >= 2).
    core = getattr(np, '_core', None) or np.core
    allowed += [core.multiarray._reconstruct, core.multiarray.scalar]
    if core.__name__ == 'numpy._core':
        # checkpoints saved under numpy 1.x name them numpy.core.multiarray.*
        allowed += [(core.multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
                    (core.multiarray.scalar, 'numpy.core.multiarray.scalar')]
    # numpy >= 1.25 pickles dtypes by their class (np.dtypes.Float64DType...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes)
                    if name.endswith('DType') and isinstance(getattr(dtypes, name), type)]
    return allowed


def allow_checkpoint_globals(objs: Iterable[Callable]) -> None:
    """Trust more classes or functions in checkpoints loaded by mmengine.

    Only add classes of your own code whose checkpoints you trust: any object
    listed here may be constructed while a checkpoint is unpickled.
    """
    for obj in objs:
        if obj not in MMENGINE_CHECKPOINT_GLOBALS:
            MMENGINE_CHECKPOINT_GLOBALS.append(obj)


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside the allow-list."""


def _global_name(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def _refused_globals(filename, message: str) -> str:
    """Name the pickled globals that made ``torch.load`` refuse the file."""
    names = []
    if isinstance(filename, str) and os.path.isfile(filename):
        try:  # reads the pickle's opcodes; runs nothing
            allowed = {_global_name(e) for e in MMENGINE_CHECKPOINT_GLOBALS}
            names = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(
                filename) if n not in allowed]
        except Exception:  # noqa: BLE001 - fall back to torch's message
            names = []
    if not names:
        names = re.findall(r'GLOBAL (\S+)', message)
    return ', '.join(f'`{n}`' for n in names) or 'an object that is not a tensor'


def _raise_if_corrupt(filename, exc: BaseException) -> None:
    """A failed load of a local file that is damaged or no checkpoint:
    :class:`CorruptCheckpointError` naming the file and what is wrong."""
    if not isinstance(filename, str) or '://' in filename or not os.path.isfile(filename):
        return
    problem = checkpoint_problem(filename)
    if problem is not None:
        raise CorruptCheckpointError(describe(filename, problem)) from exc


def _safe_load_checkpoint(orig: Callable) -> Callable:

    def load_checkpoint(cls, filename, map_location=None, logger='current'):
        with torch.serialization.safe_globals(MMENGINE_CHECKPOINT_GLOBALS):
            try:
                checkpoint = orig.__func__(cls, filename, map_location, logger)
            except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
                    OSError) as exc:
                _raise_if_corrupt(filename, exc)
                if not isinstance(exc, pickle.UnpicklingError) or (
                        'weights_only' not in str(exc).lower()
                        and 'Weights only load failed' not in str(exc)):
                    raise
                refused = _refused_globals(filename, str(exc))
                raise UnsafeCheckpointError(
                    f'Refusing to load checkpoint {filename!r}: it contains the '
                    f'pickled object(s) {refused}, which are not among the classes '
                    'that mmengine checkpoints carry (allow-list in '
                    'mmfsod/compat/checkpoint.py). torch.load keeps '
                    'weights_only=True so that a checkpoint cannot run code. '
                    'If you made this file yourself and trust it, allow the class '
                    'with mmfsod.compat.allow_checkpoint_globals([...]).') from exc
        if not isinstance(checkpoint, dict):
            raise CorruptCheckpointError(
                f'checkpoint {filename} is not a checkpoint: it holds a '
                f'{type(checkpoint).__name__}, not a dict of weights (torch.save of a '
                'state_dict, or mmengine\'s dict with "state_dict" and "meta")')
        return checkpoint

    load_checkpoint.__wrapped__ = orig
    return classmethod(load_checkpoint)


def patch_checkpoint_loading() -> bool:
    """Route mmengine's checkpoint loading through the allow-list.

    Idempotent. Does nothing on torch < 2.6, where ``torch.load`` does not
    default to ``weights_only=True``. Returns whether the patch is active.
    """
    global _ACTIVE
    if _ACTIVE:
        return True
    if not hasattr(torch.serialization, 'safe_globals'):
        return False
    version = tuple(int(v) for v in re.findall(r'\d+', torch.__version__)[:2])
    if version < (2, 6):
        return False
    from mmengine.runner.checkpoint import CheckpointLoader

    allow_checkpoint_globals(_default_globals())
    CheckpointLoader.load_checkpoint = _safe_load_checkpoint(
        CheckpointLoader.__dict__['load_checkpoint'])
    _ACTIVE = True
    return True
