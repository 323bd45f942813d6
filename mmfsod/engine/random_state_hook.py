"""RandomStateHook: checkpoints carry the random state, ``--resume``
restores it, so that an interrupted and resumed run ends as the run that was
never interrupted (bit for bit on the CPU)."""
import bisect
import functools
from typing import List, Optional

from mmengine.dataset.utils import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from .random_states import (generator_states, global_random_states,
                            set_generator_states, set_global_random_states)
from .worker_seeding import EpochWorkerSeed

META_KEY = 'random_states'


class _RestoreAfterSkip:
    """Stands for the iteration-based loop's dataloader iterator while the
    loop skips the batches already trained: the skip must not draw from the
    generators (mmengine's loop loads the skipped batches, and a pipeline in
    the main process draws), so the checkpoint's state is set once the last
    skipped batch is out. (:class:`~mmfsod.engine.IndexSkipIterBasedTrainLoop`
    loads none: its first skipping ``next()`` skips the indices and creates
    the dataloader iterator, whose workers prefetch; the state is set after
    that.)"""

    def __init__(self, iterator, num_skipped: int, restore) -> None:
        self._iterator = iterator
        self._left = num_skipped
        self._restore = restore
        if self._left <= 0:
            restore()

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self._iterator)
        if self._left > 0:
            self._left -= 1
            if self._left == 0:
                self._restore()
        return batch

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random state of every rank in checkpoints and restore it on
    resume.

    * ``before_save_checkpoint``: ``checkpoint['meta']['random_states']`` is
      a list with one entry per rank (gathered from all ranks at the end of
      the training step that saves, and only then): Python's
      ``random``, numpy's and torch's CPU generator states, the current CUDA
      device's when CUDA is in use, and the state of every generator held by
      the training dataloader's datasets and samplers (found by
      :func:`~mmfsod.engine.random_states.find_generators`).
    * ``after_load_checkpoint`` (``--resume``): keeps this rank's entry; it is
      set when training continues: at ``before_train`` for epoch-based loops,
      after the iteration-based loop has skipped the batches already trained
      (mmengine's loop loads them again, which must not count;
      :class:`~mmfsod.engine.IndexSkipIterBasedTrainLoop` skips their
      indices only, and loads nothing).
    * Validation inside training runs with the generators saved before and
      restored after, so the training draws do not depend on whether (or
      when) validation ran: a run resumed after a checkpoint that was
      followed by validation draws what the uninterrupted run drew.
    * Dataloader workers: in epoch-based training every epoch starts fresh
      workers seeded from ``(seed, epoch, rank, worker id)``
      (:class:`~mmfsod.engine.worker_seeding.EpochWorkerSeed`), persistent
      workers included, so a run resumed at epoch ``e`` gives its workers the
      generators the uninterrupted run gave them. Iteration-based training
      keeps one dataloader iterator, skipped on resume (see
      :class:`~mmfsod.engine.IndexSkipIterBasedTrainLoop` for when its
      workers' draws are exact).

    The states are saved only when ``runner.seed`` is set (mmengine sets one
    unless ``randomness.seed`` is None and picks a random one otherwise).
    A checkpoint without random states (older, or written elsewhere) resumes
    as before, with a warning.

    Args:
        restore (bool): set the saved states on resume. Defaults to True.
        reseed_workers (bool): the epoch-based worker seeding above. Defaults
            to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, restore: bool = True, reseed_workers: bool = True) -> None:
        self.restore = restore
        self.reseed_workers = reseed_workers
        self._pending: Optional[dict] = None
        self._captured: Optional[tuple] = None

    # ------------------------------------------------------------------ save
    def _states(self, runner) -> dict:
        states = global_random_states()
        loader = _train_dataloader(runner)
        if loader is not None:
            states['generators'] = generator_states(loader)
        return states

    def _capture(self, runner) -> None:
        """Every rank's states at the end of this step, gathered on every rank.

        ``Runner.save_checkpoint`` runs on rank 0 only (mmengine's
        ``master_only``), so ``before_save_checkpoint`` cannot gather: a
        collective there waits for ranks that never call it. The states are
        gathered here instead, in ``after_train_iter`` / ``after_train_epoch``
        (priority VERY_HIGH: before CheckpointHook's VERY_LOW in the same
        call), where every rank runs; nothing in between draws random numbers.
        Only the steps that save (:func:`checkpoint_due`) gather.
        """
        states = self._states(runner)
        gathered = all_gather_object(states) if get_world_size() > 1 else [states]
        self._captured = (runner.iter, runner.epoch, gathered)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if checkpoint_due(runner, epoch_end=False):
            self._capture(runner)

    def after_train_epoch(self, runner) -> None:
        if checkpoint_due(runner, epoch_end=True):
            self._capture(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        captured = self._captured
        if captured is not None and captured[:2] == (runner.iter, runner.epoch):
            gathered: List[dict] = captured[2]
        else:
            # a save outside the training steps (e.g. called by hand)
            gathered = [self._states(runner)]
            if get_world_size() > 1:
                print_log('RandomStateHook: a checkpoint saved outside a training step '
                          'holds the random states of rank 0 only', logger='current',
                          level=30)
        checkpoint.setdefault('meta', {})[META_KEY] = gathered

    # --------------------------------------------------------------- restore
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.restore or not runner._resume:
            return  # load_from / test: weights only
        saved = checkpoint.get('meta', {}).get(META_KEY)
        if not saved:
            print_log('RandomStateHook: the checkpoint has no random states (written '
                      'without this hook); the resumed run draws other random '
                      'numbers than the interrupted one would have',
                      logger='current', level=30)
            return
        rank, world = get_rank(), get_world_size()
        if len(saved) != world:
            print_log(f'RandomStateHook: the checkpoint holds the random states of '
                      f'{len(saved)} process(es), this run has {world}; rank {rank} '
                      f'takes those of rank {rank % len(saved)} (not an exact resume)',
                      logger='current', level=30)
        self._pending = saved[rank % len(saved)]

    def _apply(self, runner) -> None:
        states, self._pending = self._pending, None
        if states is None:
            return
        set_global_random_states(states)
        missing = set_generator_states(_train_dataloader(runner),
                                       states.get('generators', {}))
        if missing:
            print_log(f'RandomStateHook: the checkpoint has generator states for '
                      f'{missing}, which this run does not have; not restored',
                      logger='current', level=30)
        print_log(f'RandomStateHook: random states of rank {get_rank()} restored '
                  f'from the checkpoint (iter {runner.iter})', logger='current')

    def before_train(self, runner) -> None:
        self._guard_validation(runner)
        if self.reseed_workers and not _is_iter_based(runner):
            self._install_worker_seed(runner)
        if self._pending is None:
            return
        loop = runner.train_loop
        if _is_iter_based(runner):
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop.dataloader_iterator, loop._iter,
                functools.partial(self._apply, runner))
        else:
            self._apply(runner)

    # ------------------------------------------------------------ validation
    @staticmethod
    def _guard_validation(runner) -> None:
        val_loop = runner.val_loop
        if val_loop is None or getattr(val_loop.run, '_keeps_random_states', False):
            return
        run = val_loop.run

        @functools.wraps(run)
        def run_keeping_states(*args, **kwargs):
            states = global_random_states()
            try:
                return run(*args, **kwargs)
            finally:
                set_global_random_states(states)

        run_keeping_states._keeps_random_states = True
        val_loop.run = run_keeping_states

    # --------------------------------------------------------------- workers
    def _install_worker_seed(self, runner) -> None:
        loader = runner.train_dataloader
        if runner.seed is None or not getattr(loader, 'num_workers', 0):
            return
        base = loader.worker_init_fn
        if not (base is None or isinstance(base, EpochWorkerSeed) or (
                isinstance(base, functools.partial)
                and base.func is mmengine_worker_init_fn)):
            return  # a worker_init_fn of the config's own: left alone
        if isinstance(base, EpochWorkerSeed):
            return
        loader.worker_init_fn = EpochWorkerSeed(
            seed=runner.seed, rank=get_rank(), num_workers=loader.num_workers,
            base=loader.worker_init_fn)

    def before_train_epoch(self, runner) -> None:
        if not self.reseed_workers or _is_iter_based(runner):
            return
        loader = runner.train_dataloader
        seeder = getattr(loader, 'worker_init_fn', None)
        if not isinstance(seeder, EpochWorkerSeed):
            return
        seeder.epoch = runner.epoch
        # persistent workers would keep the generators of the last epoch:
        # start this epoch's workers afresh
        iterator = getattr(loader, '_iterator', None)
        if iterator is not None:
            iterator._shutdown_workers()
            loader._iterator = None


def checkpoint_due(runner, epoch_end: bool) -> bool:
    """Whether a checkpoint may be saved after this training step, before
    the next: a :class:`CheckpointHook` of the runner saves in this
    ``after_train_iter`` (``epoch_end=False``) / ``after_train_epoch``
    (by its own rule: ``interval`` from ``save_begin``, ``save_last``), or
    keeps the best checkpoint (``save_best``) and validation follows this
    step. The rule is the same on every rank, so all gather together."""
    for hook in getattr(runner, 'hooks', ()):
        if not isinstance(hook, CheckpointHook):
            continue
        if hook.by_epoch == epoch_end:
            if epoch_end and (hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                              or hook.save_last and hook.is_last_train_epoch(runner)):
                return True
            if not epoch_end and (
                    hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                    or hook.save_last and hook.is_last_train_iter(runner)):
                return True
        if hook.save_best and _validates_after(runner, epoch_end):
            return True
    return False


def _validates_after(runner, epoch_end: bool) -> bool:
    """Whether the training loop validates after this step (as mmengine's
    loops decide, after their dynamic interval; True when unknown)."""
    loop = runner.train_loop
    if runner.val_loop is None:
        return False
    by_iter = _is_iter_based(runner)
    if by_iter == epoch_end:  # the iteration loop validates after iterations
        return False
    try:
        done = (runner.iter if by_iter else runner.epoch) + 1
        last = loop.max_iters if by_iter else loop.max_epochs
        interval = loop.dynamic_intervals[bisect.bisect(loop.dynamic_milestones, done + 1) - 1]
        return done >= loop.val_begin and (done % interval == 0 or done == last)
    except (AttributeError, IndexError, TypeError):
        return True


def _train_dataloader(runner):
    """The built training dataloader, or None before the loop is built."""
    loop = getattr(runner, '_train_loop', None)
    if loop is None or isinstance(loop, dict):
        return None
    return getattr(loop, 'dataloader', None)


def _is_iter_based(runner) -> bool:
    from mmengine.runner import IterBasedTrainLoop
    return isinstance(runner.train_loop, IterBasedTrainLoop)
