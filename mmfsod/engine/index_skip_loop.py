"""An iteration-based training loop that resumes in seconds: the batches
already trained are skipped at the index level, without loading them.

mmengine's :class:`~mmengine.runner.IterBasedTrainLoop` resumes at
iteration ``n`` by loading (and throwing away) the ``n`` batches trained
before: a GCN-FSOD query-support item decodes ``1 + K x N`` images, so a
resume at iteration 100k loads some 200k items (hours) before its first new
step. The indices of those batches are all a resume needs to go on with the
stream where the interrupted run stopped, and the batch sampler computes them
cheaply (mmdet's ``AspectRatioBatchSampler`` reads ``get_data_info``, no
image).
"""
import itertools
import logging
import time
from typing import Dict, Iterator, List, Optional, Tuple, Union

import torch
from mmengine.logging import MMLogger, print_log
from mmengine.registry import LOOPS
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import DataLoader

SKIP_MODES = ('auto', 'index', 'replay')


def _index_sampler_attr(loader: DataLoader) -> str:
    """The loader attribute whose iterator gives the indices of a batch (as
    ``DataLoader._index_sampler``): ``batch_sampler``, or ``sampler`` when
    the loader does not batch."""
    return 'batch_sampler' if loader.batch_sampler is not None else 'sampler'


def _set_epoch(loader: DataLoader, epoch: int) -> None:
    """What mmengine's ``_InfiniteDataloaderIterator`` does when the loader
    ends (a finite sampler): the sampler goes on with the next epoch."""
    if hasattr(loader, 'sampler') and hasattr(loader.sampler, 'set_epoch'):
        loader.sampler.set_epoch(epoch)
    elif hasattr(loader, 'batch_sampler') and hasattr(
            getattr(loader.batch_sampler, 'sampler', None), 'set_epoch'):
        loader.batch_sampler.sampler.set_epoch(epoch)


def skip_batches(loader: DataLoader, num_batches: int) -> Tuple[Iterator, int]:
    """Iterate the loader's batch sampler past its first ``num_batches``
    batches of indices, loading no item.

    The sampler restarts with the next epoch when it ends, as mmengine's
    iteration-based loop restarts the loader (an infinite sampler never
    ends). Each rank's sampler gives that rank's slice of the stream, so the
    skip is per rank.

    Returns:
        tuple: the iterator of the batch sampler, positioned after the
        skipped batches, and the epoch it is in (the number of restarts).
    """
    index_sampler = getattr(loader, _index_sampler_attr(loader))
    batches, epoch, left = iter(index_sampler), 0, int(num_batches)
    while left > 0:
        done = sum(1 for _ in itertools.islice(batches, left))  # each a fresh iterator
        left -= done
        if left == 0:
            break
        if done == 0:
            raise RuntimeError(f'skip_batches: {type(index_sampler).__name__} of the '
                               'training dataloader gives no batch')
        epoch += 1
        _set_epoch(loader, epoch)
        batches = iter(index_sampler)
    return batches, epoch


class _StartedBatchSampler:
    """Stands for the loader's batch sampler while a dataloader iterator is
    created: every ``iter()`` then (a multi-process iterator calls it twice)
    gives ``batches``, a started iterator of the batch sampler; once
    :meth:`done`, a fresh one (the restart of a finite sampler, persistent
    workers)."""

    def __init__(self, batch_sampler, batches: Iterator) -> None:
        self._batch_sampler = batch_sampler
        self._batches: Optional[Iterator] = batches

    def done(self) -> None:
        self._batches = None

    def __iter__(self):
        return self._batches if self._batches is not None else iter(self._batch_sampler)

    def __len__(self) -> int:
        return len(self._batch_sampler)

    def __getattr__(self, name):
        return getattr(self._batch_sampler, name)


def _loader_iterator_from(loader: DataLoader, batches: Iterator):
    """``iter(loader)`` whose first batch indices are the next of
    ``batches`` (workers prefetch from there). ``DataLoader`` forbids setting
    its batch sampler once built, hence ``object.__setattr__``; the loader's
    own is back before this returns."""
    attr = _index_sampler_attr(loader)
    original = getattr(loader, attr)
    started = _StartedBatchSampler(original, batches)
    object.__setattr__(loader, attr, started)
    try:
        return iter(loader)
    finally:
        started.done()
        object.__setattr__(loader, attr, original)


def _loader_rng(loader: DataLoader) -> torch.Generator:
    """The generator ``iter(loader)`` draws the workers' base seed from."""
    return loader.generator if loader.generator is not None else torch.default_generator


def draws_keyed_by_index(dataset) -> bool:
    """Whether the random draws of an item depend only on its index (and the
    dataset's seed), not on the state of the process that loads it:
    :class:`~mmfsod.detection.datasets.QuerySupportDataset` and
    :class:`~mmfsod.detection.datasets.KeyedDrawsDataset`, which wraps any
    dataset (``accepts_pass_index``)."""
    return bool(getattr(dataset, 'accepts_pass_index', False))


class _ResumedInfiniteIterator(_InfiniteDataloaderIterator):
    """mmengine's infinite iterator over an already created ``iter(loader)``
    in epoch ``epoch`` of a finite sampler."""

    def __init__(self, dataloader: DataLoader, iterator, epoch: int) -> None:
        self._dataloader = dataloader
        self._iterator = iterator
        self._epoch = epoch


class _SkippingIterator:
    """The loop's dataloader iterator, created at the first ``next()``.

    On resume at iteration ``n``, mmengine's ``IterBasedTrainLoop.run``
    calls ``next()`` ``n`` times to skip the trained batches: in index mode
    the first of those calls skips ``n`` batches of indices and only then
    creates the dataloader iterator (its workers prefetch from batch
    ``n + 1``), and the ``n`` calls return None. In replay mode the ``n``
    calls load the batches. (:class:`~mmfsod.engine.RandomStateHook`, which
    counts these calls, sets the checkpoint's random states after the last.)
    """

    def __init__(self, loop: 'IndexSkipIterBasedTrainLoop') -> None:
        self._loop = loop
        self._iterator: Optional[_InfiniteDataloaderIterator] = None
        self._nones = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._iterator is None:
            self._iterator, self._nones = self._loop._start_iterator()
        if self._nones:
            self._nones -= 1
            return None
        return next(self._iterator)

    def __getattr__(self, name):
        if name.startswith('__') or self.__dict__.get('_iterator') is None:
            raise AttributeError(name)
        return getattr(self._iterator, name)


class _DropOnce(logging.Filter):
    """Drops the first log record whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix, self.dropped = prefix, False

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.dropped and str(record.msg).startswith(self.prefix):
            self.dropped = True
            return False
        return True


@LOOPS.register_module()
class IndexSkipIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's :class:`~mmengine.runner.IterBasedTrainLoop` whose resume
    skips the batches already trained at the index level: resuming at
    iteration ``n`` iterates the batch sampler ``n`` batches (per rank;
    indices only, e.g. ``get_data_info`` for ``AspectRatioBatchSampler``)
    and loads no item of them. Otherwise it trains as mmengine's loop (a run
    without resume draws the same random numbers; the dataloader iterator
    is only created at the first batch, not when the loop is built).

    Exactness (the resumed run is the uninterrupted one, with
    :class:`~mmfsod.engine.RandomStateHook` restoring the random states):
    skipping gives the sampler, the batch sampler and the generators the
    checkpoint holds their states, and the main process its random state.
    What it cannot give are the global random states of *dataloader
    workers*, which in the uninterrupted run had drawn the random transforms
    of every item loaded before. So ``skip='auto'`` skips at the index level
    when the data pipeline runs in the main process (``num_workers=0``) or
    when the dataset keys its draws by index (a
    :class:`~mmfsod.detection.datasets.QuerySupportDataset` seeds its
    pipelines from ``(seed, pass, idx)``, and so does a
    :class:`~mmfsod.detection.datasets.KeyedDrawsDataset` around any dataset,
    as in the TFA training configs; see :func:`draws_keyed_by_index`), and
    otherwise replays the batches as mmengine does (exact: the workers load
    what they loaded before), saying so in the log.

    Prefetch: a resume restores the checkpoint's states after the dataloader
    iterator is created, and the checkpoint was taken while the writing
    run's workers had prefetched ``num_workers x prefetch_factor`` batches
    beyond it. A sampler (or batch sampler) that holds a generator it draws
    from as it goes is therefore restored that many batches ahead, which
    matches only a resumed run with the same ``num_workers`` and
    ``prefetch_factor``. mmengine's ``InfiniteSampler`` and
    :class:`~mmfsod.detection.datasets.PassInfiniteSampler` hold none (their
    stream is a function of their seed, recomputed by the skip), so with
    keyed draws the number of workers may change between the two runs.

    Args:
        runner, dataloader, max_iters, val_begin, val_interval,
            dynamic_intervals: as :class:`IterBasedTrainLoop`.
        skip (str): how a resume passes the trained batches: ``'auto'``
            (above), ``'index'`` (always skip indices; with workers and a
            dataset whose draws are not keyed by index, e.g. mmdet's random
            transforms of an unwrapped detection dataset, the draws after the
            resume differ from the uninterrupted run's, with a warning) or
            ``'replay'`` (mmengine's). Defaults to ``'auto'``. (TFA's training configs
            wrap their dataset in ``KeyedDrawsDataset``: ``'auto'`` skips.)
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
                 skip: str = 'auto') -> None:
        if skip not in SKIP_MODES:
            raise ValueError(f'{type(self).__name__}: skip must be one of {SKIP_MODES}, '
                             f'got {skip!r}')
        self.skip = skip
        self.skip_seconds = 0.0  # the time the last index skip took
        # IterBasedTrainLoop.__init__ without creating the dataloader
        # iterator: with workers that starts them prefetching the first
        # batches, which a resume does not load
        BaseLoop.__init__(self, runner, dataloader)
        self._max_iters = int(max_iters)
        assert self._max_iters == max_iters, \
            f'`max_iters` should be a integer number, but get {max_iters}'
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo
        else:
            print_log(f'Dataset {self.dataloader.dataset.__class__.__name__} has no '
                      'metainfo. ``dataset_meta`` in visualizer will be None.',
                      logger='current', level=logging.WARNING)
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)
        # creating a dataloader iterator draws its workers' base seed from
        # torch's generator: drawn here, where mmengine's loop creates it,
        # so that the run draws as one with mmengine's loop does
        torch.empty((), dtype=torch.int64).random_(generator=_loader_rng(self.dataloader))
        self.dataloader_iterator = _SkippingIterator(self)

    def run(self) -> torch.nn.Module:
        """mmengine's :meth:`IterBasedTrainLoop.run`. When a resume skips at
        the index level, mmengine's warning "Advance dataloader n steps to
        skip data that has already been trained" (which reads as if the
        batches were loaded) is left out: this loop logs what it did."""
        if self.skip_mode(self._iter) != 'index':
            return super().run()
        logger = MMLogger.get_current_instance()
        drop = _DropOnce('Advance dataloader ')
        logger.addFilter(drop)
        try:
            return super().run()
        finally:
            logger.removeFilter(drop)

    def skip_mode(self, num_batches: int) -> str:
        """``'index'`` or ``'replay'``: how a resume passes ``num_batches``
        trained batches (see the class doc)."""
        if num_batches <= 0 or self.skip == 'replay':
            return 'replay'
        if self.skip == 'index':
            return 'index'
        loader = self.dataloader
        return ('index' if not loader.num_workers or draws_keyed_by_index(loader.dataset)
                else 'replay')

    def _start_iterator(self) -> Tuple[_InfiniteDataloaderIterator, int]:
        """The dataloader iterator, created after the trained batches were
        skipped (index mode), and how many of mmengine's skipping ``next()``
        calls it must answer with None."""
        n, loader = self._iter, self.dataloader
        mode = self.skip_mode(n)
        name, dataset = type(self).__name__, type(loader.dataset).__name__
        keyed = draws_keyed_by_index(loader.dataset)
        if mode == 'replay' and n > 0:
            print_log(f'{name}: resuming at iteration {n} by loading the {n} trained '
                      f'batches again: {loader.num_workers} dataloader workers draw the '
                      f'random transforms of {dataset}, whose draws are not keyed by index, '
                      'and only loading the same items gives them the random state of the '
                      "uninterrupted run. train_cfg.skip='index' skips at the index level "
                      'instead (fast; those draws then differ from the uninterrupted run)'
                      if self.skip == 'auto' else
                      f"{name}: skip='replay': loading the {n} trained batches again",
                      logger='current')
        if mode == 'index' and loader.num_workers and not keyed:
            print_log(f"{name}: skip='index' with {loader.num_workers} dataloader workers "
                      f'and {dataset}, whose draws are not keyed by index: the workers do '
                      'not get the random state of the uninterrupted run, so the random '
                      'transforms after this resume differ from it', logger='current',
                      level=logging.WARNING)
        rng = _loader_rng(loader)
        state = rng.get_state()  # drawn in __init__ already
        try:
            if mode == 'replay':
                return _InfiniteDataloaderIterator(loader), 0
            start = time.perf_counter()
            batches, epoch = skip_batches(loader, n)
            iterator = _ResumedInfiniteIterator(loader, _loader_iterator_from(loader, batches),
                                                epoch)
            self.skip_seconds = time.perf_counter() - start
            print_log(f'{name}: skipped the {n} trained batches at the index level in '
                      f'{self.skip_seconds:.2f} s (no item loaded)', logger='current')
            return iterator, n
        finally:
            rng.set_state(state)
