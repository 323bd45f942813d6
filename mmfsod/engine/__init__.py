"""Engine parts shared by both method families (registered in mmengine's
root registries, so mmdet- and mmpretrain-scoped configs find them)."""
from .index_skip_loop import IndexSkipIterBasedTrainLoop, skip_batches
from .random_state_hook import RandomStateHook
from .random_states import (find_generators, generator_states,
                            global_random_states, set_generator_states,
                            set_global_random_states)
from .worker_seeding import EpochWorkerSeed

__all__ = [
    'EpochWorkerSeed', 'find_generators', 'generator_states',
    'global_random_states', 'IndexSkipIterBasedTrainLoop', 'RandomStateHook',
    'set_generator_states', 'set_global_random_states', 'skip_batches'
]
