"""Key the random draws of any dataset's items by ``(seed, pass, idx)``.

mmdet's random transforms (``RandomFlip``, ``RandomResize``, ...) draw from
numpy's (and Python's) global generator of the process that loads the item:
with dataloader workers, an item's draws depend on every item that worker
loaded before. A run resumed without loading the trained items again (the
index skip of :class:`~mmfsod.engine.IndexSkipIterBasedTrainLoop`) cannot
give the workers that state. :class:`KeyedDrawsDataset` makes each item's
draws a function of ``(seed, pass, idx)`` alone, as
:class:`~mmfsod.detection.datasets.QuerySupportDataset` does for
query-support pairs, so such a resume is exact in seconds.
"""
import copy
from typing import Sequence, Union

from mmdet.registry import DATASETS

from .query_support import QuerySupportDataset, draw_key, seeded_global_rngs


@DATASETS.register_module()
class KeyedDrawsDataset:
    """Wrap a dataset so that item ``idx`` of pass ``p`` runs the wrapped
    dataset's ``__getitem__`` (its pipeline's random transforms, mmengine's
    refetch of a dropped item, the replacement of a bad image) with Python's
    ``random``, numpy's global generator and torch's CPU generator seeded
    from ``(seed, p, idx)`` (:func:`~mmfsod.detection.datasets.query_support.draw_key`,
    stream 1 as QuerySupportDataset's transforms), and restores their
    previous states afterwards: the streams of the process that loads (main
    process or worker) are left untouched, so whatever else draws there
    (e.g. the model in the main process with ``num_workers=0``) draws the
    same whatever was loaded.

    The item is therefore the same whatever the number of workers, ranks or
    items loaded before; and different in every pass over the data. The pass
    comes with the index, ``dataset[(p, idx)]``, as
    :class:`~mmfsod.detection.datasets.PassInfiniteSampler` and
    :class:`~mmfsod.detection.datasets.PassDefaultSampler` yield them
    (``accepts_pass_index``); a plain ``dataset[idx]`` is pass 0.
    ``get_data_info``, ``metainfo``, ``__len__`` and ``full_init`` are the
    wrapped dataset's (``get_data_info`` takes ``(p, idx)`` too, as mmdet's
    ``AspectRatioBatchSampler`` passes it); any other attribute is read from
    the wrapped dataset (``num_bad_images``, ``pipeline``, ...).

    Args:
        dataset (dict | Dataset): the dataset (or its config), e.g. a
            :class:`~mmfsod.detection.datasets.FewShotCocoDataset`; its
            ``skip_bad_images`` applies as without the wrapper (inside the
            seeded block: a replacement's draws are keyed as well).
        seed (int): seed of the draws. Defaults to 0.
        lazy_init (bool): leave ``full_init`` of the wrapped dataset to its
            first use. Defaults to False.
    """

    # the pass samplers may give this dataset (pass, idx) pairs
    accepts_pass_index = True

    def __init__(self, dataset: Union[dict, object], seed: int = 0,
                 lazy_init: bool = False) -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        if not (hasattr(dataset, '__getitem__') and hasattr(dataset, '__len__')):
            raise TypeError(f'{type(self).__name__}.dataset must be a dataset or its '
                            f'config dict, got {type(dataset).__name__}')
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f'{type(self).__name__}.seed must be an int, got {seed!r}')
        self.dataset = dataset
        self.seed = seed
        if not lazy_init:
            self.full_init()

    # an int is pass 0; a (pass, idx) pair comes from a pass sampler
    split_index = QuerySupportDataset.split_index

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def __len__(self) -> int:
        return len(self.dataset)

    def _index(self, index: Union[int, Sequence[int]]):
        pass_, idx = self.split_index(index)
        if not -len(self) <= idx < len(self):
            raise IndexError(f'{type(self).__name__} index {idx} out of range '
                             f'({len(self)} items of {type(self.dataset).__name__})')
        return pass_, idx % len(self)

    def get_data_info(self, index: Union[int, Sequence[int]]) -> dict:
        """The wrapped dataset's data info of ``index`` (an int or
        ``(pass, idx)``)."""
        return self.dataset.get_data_info(self._index(index)[1])

    def __getitem__(self, index: Union[int, Sequence[int]]):
        """Item ``index`` (an int: pass 0, or ``(pass, idx)``) of the wrapped
        dataset, drawn from ``(seed, pass, idx)``."""
        pass_, idx = self._index(index)
        with seeded_global_rngs(draw_key(self.seed, idx, 1, pass_)):
            return self.dataset[idx]

    def __getattr__(self, name: str):
        # only what is not found on the wrapper; never during unpickling
        # (no `dataset` yet) nor for special names
        if name.startswith('__') or 'dataset' not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__['dataset'], name)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(seed={self.seed}, '
                f'dataset={type(self.dataset).__name__} of {len(self)} items)')
