"""Capture and restore every random generator a training run draws from.

A resumed run is the run that was started only if it continues from the
random state the interrupted one had when it wrote the checkpoint:
proposal sampling, augmentation and pairing draw from Python's ``random``,
numpy's and torch's global generators (and the CUDA ones on a GPU), and a
dataset or sampler may hold a generator of its own. These plain functions
turn that state into a picklable dict of tensors / ints (loadable with
``torch.load(weights_only=True)``) and back; :class:`RandomStateHook` puts
it in checkpoints.
"""
import random
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import torch

STATE_VERSION = 1


def _np_state_to_dict(state: dict) -> dict:
    """numpy ``bit_generator.state`` -> tensors and plain types."""
    def conv(value):
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return dict(__ndarray__=torch.from_numpy(value.astype(np.int64)),
                        dtype=str(value.dtype))
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        return value
    return conv(state)


def _np_state_from_dict(state: dict) -> dict:
    def conv(value):
        if isinstance(value, dict):
            if '__ndarray__' in value:
                return value['__ndarray__'].numpy().astype(value['dtype'])
            return {k: conv(v) for k, v in value.items()}
        return value
    return conv(state)


def global_random_states() -> dict:
    """The states of Python's, numpy's, torch's CPU and (when initialised)
    the current CUDA device's global generators of this process."""
    py_version, py_internal, py_gauss = random.getstate()
    states = dict(
        version=STATE_VERSION,
        python=dict(version=py_version, internal=torch.tensor(py_internal, dtype=torch.int64),
                    gauss=py_gauss),
        numpy=_np_state_to_dict(np.random.get_state(legacy=False)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state()
    return states


def set_global_random_states(states: dict) -> None:
    """Restore what :func:`global_random_states` returned."""
    py = states['python']
    random.setstate((py['version'], tuple(int(v) for v in py['internal'].tolist()),
                     py['gauss']))
    np.random.set_state(_np_state_from_dict(states['numpy']))
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'])


# --------------------------------------------- generators held by objects
GENERATOR_TYPES = (random.Random, np.random.Generator, np.random.RandomState,
                   torch.Generator)
# attributes followed from a dataloader to the objects that may hold one
_CHILDREN = ('dataset', 'datasets', 'support_dataset', 'sampler', 'batch_sampler')


def _generator_state(gen) -> Any:
    if isinstance(gen, random.Random):
        version, internal, gauss = gen.getstate()
        return dict(kind='python', version=version, gauss=gauss,
                    internal=torch.tensor(internal, dtype=torch.int64))
    if isinstance(gen, np.random.Generator):
        return dict(kind='numpy', state=_np_state_to_dict(gen.bit_generator.state))
    if isinstance(gen, np.random.RandomState):
        return dict(kind='numpy_legacy',
                    state=_np_state_to_dict(gen.get_state(legacy=False)))
    return dict(kind='torch', state=gen.get_state())


def _set_generator_state(gen, state: dict, where: str) -> None:
    kinds = {'python': random.Random, 'numpy': np.random.Generator,
             'numpy_legacy': np.random.RandomState, 'torch': torch.Generator}
    if not isinstance(gen, kinds[state['kind']]):
        raise TypeError(f'RandomStateHook: {where} is a {type(gen).__name__} now, the '
                        f'checkpoint holds the state of a {state["kind"]} generator')
    if state['kind'] == 'python':
        gen.setstate((state['version'], tuple(int(v) for v in state['internal'].tolist()),
                      state['gauss']))
    elif state['kind'] == 'numpy':
        gen.bit_generator.state = _np_state_from_dict(state['state'])
    elif state['kind'] == 'numpy_legacy':
        gen.set_state(_np_state_from_dict(state['state']))
    else:
        gen.set_state(state['state'])


def find_generators(root, name: str = 'train_dataloader',
                    depth: int = 4) -> Iterator[Tuple[str, Any, str]]:
    """``(path, owner, attribute)`` of every generator held directly by
    ``root`` or by the datasets / samplers reachable from it (``dataset``,
    ``datasets``, ``support_dataset``, ``sampler``, ``batch_sampler``),
    e.g. ``('train_dataloader.dataset.rng', dataset, 'rng')``."""
    seen = set()

    def walk(obj, path, level):
        if obj is None or id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        attrs = getattr(obj, '__dict__', None)
        if not isinstance(attrs, dict):
            return
        for key in sorted(attrs):
            if isinstance(attrs[key], GENERATOR_TYPES):
                yield f'{path}.{key}', obj, key
        for key in _CHILDREN:
            child = attrs.get(key)
            if isinstance(child, (list, tuple)):
                for i, item in enumerate(child):
                    yield from walk(item, f'{path}.{key}[{i}]', level + 1)
            elif child is not None and not isinstance(child, GENERATOR_TYPES):
                yield from walk(child, f'{path}.{key}', level + 1)

    yield from walk(root, name, 0)


def generator_states(root, name: str = 'train_dataloader') -> Dict[str, Any]:
    """The states of :func:`find_generators`' generators, by path."""
    return {path: _generator_state(getattr(owner, attr))
            for path, owner, attr in find_generators(root, name)}


def set_generator_states(root, states: Dict[str, Any],
                         name: str = 'train_dataloader') -> List[str]:
    """Restore :func:`generator_states`; return the paths of the checkpoint
    that no generator of ``root`` has now (and so were not restored)."""
    found = {path: (owner, attr) for path, owner, attr in find_generators(root, name)}
    missing = []
    for path, state in states.items():
        if path not in found:
            missing.append(path)
            continue
        owner, attr = found[path]
        _set_generator_state(getattr(owner, attr), state, path)
    return missing
