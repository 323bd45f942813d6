"""Atomic file writes: checkpoints, ``last_checkpoint`` and the project's
own result files.

A file is written to a temporary file in the same folder
(``.<name>.tmp-<pid>-<n>``), flushed to disk, then renamed over the final
name with :func:`os.replace` (atomic on POSIX and Windows within one file
system). A process killed at any moment leaves the old file or the new one
under the final name, never a part of one; at worst a temporary file stays
behind (its name never ends with ``.pth``, so nothing mistakes it for a
checkpoint), and the next write of the same name removes it.

:func:`patch_atomic_saves` makes mmengine write this way: its local file
backend's ``put`` / ``put_text`` (used by ``save_checkpoint`` and
``mmengine.dump``) and the ``last_checkpoint`` file of ``CheckpointHook``.
"""
import contextlib
import glob
import io
import itertools
import os
import os.path as osp
from typing import IO, Iterator

_ACTIVE = False
_COUNTER = itertools.count()
TMP_MARK = '.tmp-'


def temp_path_for(path: str) -> str:
    """A fresh temporary name beside ``path``."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}{TMP_MARK}{os.getpid()}-{next(_COUNTER)}')


def _remove_stale_temps(path: str) -> None:
    """Temporary files of ``path`` left by processes that no longer run."""
    folder, name = osp.split(osp.abspath(path))
    for tmp in glob.glob(osp.join(glob.escape(folder), f'.{glob.escape(name)}{TMP_MARK}*')):
        pid = tmp.rsplit(TMP_MARK, 1)[1].split('-')[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.remove(tmp)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: str) -> None:
    if os.name != 'posix':
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w', encoding: str = None) -> Iterator[IO]:
    """``open(path, mode)`` for writing, made atomic: the data reach
    ``path`` only when the block ends without an exception (then the
    temporary file is synced and renamed over ``path``); otherwise ``path``
    is untouched and the temporary file removed."""
    if mode not in ('w', 'wb', 'wt'):
        raise ValueError(f'atomic_open({path!r}): mode must be "w" or "wb", got {mode!r}')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _remove_stale_temps(path)
    tmp = temp_path_for(path)
    kwargs = {} if 'b' in mode else dict(encoding=encoding or 'utf-8')
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def atomic_write(path: str, data, encoding: str = 'utf-8') -> None:
    """Write ``data`` (bytes or str) to ``path`` atomically."""
    with atomic_open(path, 'wb' if isinstance(data, (bytes, bytearray, memoryview))
                     else 'w', encoding=encoding) as f:
        f.write(data)


def _atomic_put(self, obj: bytes, filepath) -> None:
    atomic_write(str(filepath), obj)


def _atomic_put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
    atomic_write(str(filepath), obj, encoding=encoding)


class _CheckpointHookOpen:
    """``open`` as seen by mmengine's checkpoint_hook module: writing opens
    atomic (``last_checkpoint``), anything else is the builtin ``open``."""

    def __call__(self, file, mode='r', *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and mode in ('w', 'wb', 'wt'):
            return atomic_open(os.fspath(file), mode, kwargs.get('encoding'))
        return io.open(file, mode, *args, **kwargs)


def patch_atomic_saves() -> None:
    """Make mmengine's local writes atomic (idempotent)."""
    global _ACTIVE
    if _ACTIVE:
        return
    import mmengine.hooks.checkpoint_hook as checkpoint_hook
    from mmengine.fileio.backends.local_backend import LocalBackend

    LocalBackend.put = _atomic_put
    LocalBackend.put_text = _atomic_put_text
    # CheckpointHook writes last_checkpoint with the builtin open()
    checkpoint_hook.open = _CheckpointHookOpen()
    _ACTIVE = True
