"""Seeds of dataloader workers that follow the epoch."""
import random
from typing import Callable, Optional

import numpy as np
import torch


class EpochWorkerSeed:
    """A dataloader ``worker_init_fn`` that seeds Python's, numpy's and
    torch's generators of worker ``worker_id`` from
    ``(seed, epoch, rank, worker_id)`` (mmengine's own seeds them from
    ``seed + rank * num_workers + worker_id``, the same every epoch).

    :class:`~mmfsod.engine.RandomStateHook` sets :attr:`epoch` before each
    epoch's workers start, so a run resumed at epoch ``e`` seeds them as the
    uninterrupted run did. ``base`` (mmengine's function) runs first, for
    its other effects (warnings).
    """

    def __init__(self, seed: int, rank: int, num_workers: int,
                 base: Optional[Callable] = None, epoch: int = 0) -> None:
        self.seed = int(seed)
        self.rank = int(rank)
        self.num_workers = int(num_workers)
        self.base = base
        self.epoch = int(epoch)

    def worker_seed(self, worker_id: int) -> int:
        seq = np.random.SeedSequence([self.seed, self.epoch, self.rank, worker_id])
        return int(seq.generate_state(1)[0])

    def __call__(self, worker_id: int) -> None:
        if self.base is not None:
            self.base(worker_id)
        seed = self.worker_seed(worker_id)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
