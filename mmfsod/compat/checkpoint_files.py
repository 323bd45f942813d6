"""Corrupt checkpoint files: a message naming the file and what is wrong,
and auto-resume that skips a damaged newest checkpoint.

* :func:`checkpoint_problem` says, without unpickling anything, what is
  wrong with a file given as a checkpoint: missing, empty, a zip archive cut
  short (no central directory: a write interrupted before the atomic saves
  of :mod:`.atomic`, or a copy cut short), a member that fails its CRC, or
  not a PyTorch file at all.
* mmengine's checkpoint loader (patched in :mod:`.checkpoint`) raises
  :class:`CorruptCheckpointError` with that reason when ``torch.load``
  fails on such a file, and when the file holds no checkpoint dict.
* :func:`find_latest_intact_checkpoint` replaces mmengine's
  ``find_latest_checkpoint`` for auto-resume (``--resume`` without a path,
  ``resume=True`` with no ``load_from``): the newest checkpoint of the work
  directory (``iter_N.pth`` / ``epoch_N.pth``, and the one
  ``last_checkpoint`` names) that is intact; a damaged newer one is skipped
  with a warning.
"""
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

_ACTIVE = False
_STEP_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')
_PICKLE_PROTOCOL = 0x80


class CorruptCheckpointError(RuntimeError):
    """A file given as a checkpoint is damaged or is no checkpoint."""


def checkpoint_problem(path: str) -> Optional[str]:
    """What is wrong with the checkpoint file ``path``, or None if it looks
    intact (a complete zip archive of ``torch.save`` whose members pass their
    CRC, or a file in torch's legacy pickle format)."""
    if not osp.exists(path):
        return 'does not exist'
    if not osp.isfile(path):
        return 'is not a file'
    size = osp.getsize(path)
    if size == 0:
        return 'is empty (0 bytes)'
    with open(path, 'rb') as f:
        head = f.read(4)
    if head == b'PK\x03\x04':
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if not any(n.endswith('data.pkl') for n in names):
                    return 'is a zip archive without data.pkl, not a PyTorch checkpoint'
                bad = archive.testzip()
        except zipfile.BadZipFile as err:
            return (f'is truncated or damaged ({size} bytes, the zip archive is '
                    f'incomplete: {err})')
        except (OSError, EOFError, zipfile.LargeZipFile, ValueError,
                NotImplementedError) as err:
            # a damaged member header can fail anywhere in zipfile (a name
            # that is not UTF-8 is a UnicodeDecodeError, a ValueError)
            return f'is truncated or damaged ({size} bytes: {type(err).__name__}: {err})'
        if bad is not None:
            return f'is damaged (member {bad!r} fails its CRC check)'
        return None
    if head[:1] and head[0] == _PICKLE_PROTOCOL:
        return None  # torch's legacy (pre-1.6) format: checked by unpickling
    return ('is not a PyTorch checkpoint (neither the zip archive torch.save '
            f'writes nor a pickle; it starts with {head!r})')


def describe(path: str, problem: str) -> str:
    return f'checkpoint {path} {problem}'


def _step_of(path: str) -> int:
    match = _STEP_NAME.match(osp.basename(path))
    return int(match.group(2)) if match else -1


def checkpoint_candidates(work_dir: str) -> List[str]:
    """The checkpoints auto-resume may use, newest first: the file
    ``last_checkpoint`` names and every ``iter_N.pth`` / ``epoch_N.pth`` of
    ``work_dir``, by N (the named one first among equals)."""
    named = None
    save_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(save_file):
        with open(save_file) as f:
            named = f.read().strip() or None
    found = [osp.join(work_dir, n) for n in os.listdir(work_dir)
             if _STEP_NAME.match(n)] if osp.isdir(work_dir) else []
    paths = ([named] if named else []) + [
        p for p in found if not named or osp.abspath(p) != osp.abspath(named)]

    def newest_first(p):  # stable: among equal steps `named` stays first
        step = _step_of(p)
        return -step if step >= 0 or p != named else -float('inf')
    return sorted(paths, key=newest_first)


def find_latest_intact_checkpoint(path: str) -> Optional[str]:
    """The newest intact checkpoint of the work directory ``path`` (None if
    it has none); damaged newer ones are skipped with a warning. Raises
    :class:`CorruptCheckpointError` if there are checkpoints but none is
    intact (training from scratch would silently replace them)."""
    from mmengine.logging import print_log
    candidates = checkpoint_candidates(path)
    if not candidates:
        print_log('Did not find last_checkpoint to be resumed.', logger='current')
        return None
    skipped = []
    for candidate in candidates:
        problem = checkpoint_problem(candidate)
        if problem is None:
            if skipped:
                print_log(f'auto-resume: {"; ".join(skipped)}; resuming from the newest '
                          f'intact checkpoint {candidate}', logger='current', level=30)
            return candidate
        skipped.append(f'skipped {describe(candidate, problem)}')
    raise CorruptCheckpointError(
        f'auto-resume in {path}: no intact checkpoint ({"; ".join(skipped)}); '
        'remove the damaged files to train from scratch, or give --resume CKPT')


def _checked_resume(orig):

    def resume(self, filename, *args, **kwargs):
        try:
            return orig(self, filename, *args, **kwargs)
        except KeyError as err:
            if err.args and err.args[0] in ('meta', 'epoch', 'iter', 'message_hub'):
                raise CorruptCheckpointError(
                    f'checkpoint {filename} is not a training checkpoint to resume '
                    f'from: it has no {err.args[0]!r} (a file with weights only '
                    'goes to load_from)') from None
            raise

    resume.__wrapped__ = orig
    return resume


def patch_checkpoint_files() -> None:
    """Auto-resume skips damaged checkpoints; resuming from a weights-only
    file names it (idempotent)."""
    global _ACTIVE
    if _ACTIVE:
        return
    import mmengine.runner.runner as runner_module
    runner_module.find_latest_checkpoint = find_latest_intact_checkpoint
    runner_module.Runner.resume = _checked_resume(runner_module.Runner.resume)
    _ACTIVE = True
