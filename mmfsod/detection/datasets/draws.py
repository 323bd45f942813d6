"""Random streams keyed by ``(seed, idx, stream, pass)``: the draws of an
item depend on its index alone (whatever the workers, ranks or items loaded
before)."""
import contextlib
import random
from typing import List, Sequence

import numpy as np
import torch


def draw_key(seed: int, idx: int, stream: int = 0, pass_: int = 0) -> List[int]:
    """The entropy of one random stream of an item: ``(seed, idx, stream,
    pass)`` with trailing zeros left out, so that pass 0 keeps the keys the
    draws had before passes counted (``(seed, idx)`` for the pairing and the
    supports, stream 0; ``(seed, idx, 1)`` for the transforms, stream 1)."""
    key = [int(seed), int(idx)]
    if stream or pass_:
        key.append(int(stream))
    if pass_:
        key.append(int(pass_))
    return key


@contextlib.contextmanager
def seeded_global_rngs(seed_seq: Sequence[int]):
    """Seed Python's, numpy's and torch's CPU global generators (which
    mmcv/mmdet transforms draw from) for the block, and restore their state
    after. (Not ``torch.manual_seed``: that seeds the CUDA generators too,
    which the main process of a ``num_workers=0`` run trains with.)"""
    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    seed = int(np.random.SeedSequence(list(seed_seq)).generate_state(1)[0])
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
