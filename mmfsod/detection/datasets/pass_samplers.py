"""Samplers that tell a dataset which pass over the data an index belongs to.

A :class:`~mmfsod.detection.datasets.QuerySupportDataset` item is drawn from
``(seed, pass, idx)``: its pairing, its supports and its random transforms.
Dataloader workers are separate processes, so a pass number set on the
dataset in the main process would not reach them (persistent workers keep
their copy of the dataset). These samplers therefore hand the pass over
*with* the index: they yield ``(pass, idx)`` tuples, which the batch sampler
passes through and the dataset's ``__getitem__`` / ``get_data_info`` read.

The pass of an index is a pure function of its place in the sampler's
stream, so it is the same whatever the number of workers or ranks, and a run
resumed by replaying the stream of indices
(:class:`~mmfsod.engine.IndexSkipIterBasedTrainLoop`, which loads no item of
the skipped batches, or mmengine's loop, which loads them) reaches the same
passes with nothing saved beside the checkpoint.
"""
from typing import Iterator, Sized, Tuple

from mmdet.registry import DATA_SAMPLERS
from mmengine.dataset import DefaultSampler, InfiniteSampler

# (pass over the data, index in the dataset)
PassIndex = Tuple[int, int]


def _check_dataset(sampler, dataset: Sized) -> None:
    if not getattr(dataset, 'accepts_pass_index', False):
        raise TypeError(f'{type(sampler).__name__} yields (pass, index) pairs, which '
                        f'{type(dataset).__name__} does not read; use it with a '
                        'QuerySupportDataset (or a dataset with accepts_pass_index = '
                        'True), or use InfiniteSampler / DefaultSampler')


@DATA_SAMPLERS.register_module()
class PassInfiniteSampler(InfiniteSampler):
    """mmengine's :class:`InfiniteSampler` (iteration-based training) that
    yields ``(pass, idx)``: pass ``p`` is the ``p``-th permutation of the
    dataset in the one infinite stream all ranks slice (rank ``r`` of ``R``
    takes stream positions ``r, r + R, ...``), i.e. stream position ``k`` is
    pass ``k // len(dataset)``.

    Args: as :class:`InfiniteSampler` (``dataset``, ``shuffle``, ``seed``).
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed=None) -> None:
        _check_dataset(self, dataset)
        super().__init__(dataset, shuffle=shuffle, seed=seed)

    def _infinite_indices(self) -> Iterator[PassIndex]:
        """Infinitely yield ``(pass, idx)``, the indices of InfiniteSampler."""
        for position, idx in enumerate(super()._infinite_indices()):
            yield position // self.size, idx


@DATA_SAMPLERS.register_module()
class PassDefaultSampler(DefaultSampler):
    """mmengine's :class:`DefaultSampler` (epoch-based training) that yields
    ``(epoch, idx)``: the pass is the epoch the loop gives through
    ``set_epoch`` (in the main process, where the sampler runs).

    Args: as :class:`DefaultSampler` (``dataset``, ``shuffle``, ``seed``,
        ``round_up``).
    """

    def __init__(self, dataset: Sized, *args, **kwargs) -> None:
        _check_dataset(self, dataset)
        super().__init__(dataset, *args, **kwargs)

    def __iter__(self) -> Iterator[PassIndex]:
        epoch = self.epoch
        for idx in super().__iter__():
            yield epoch, idx
