"""KeyedDrawsDataset: an item's random draws (Python's ``random``, numpy's
and torch's global generators) depend only on ``(seed, pass, idx)``, the
loading process's own streams are left as they were, and the TFA training
configs that use it resume exactly with dataloader workers while skipping the
trained batches at the index level."""
import glob
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from conftest import REPO
from mmfsod.detection.datasets import KeyedDrawsDataset, PassInfiniteSampler, keyed_draws
from mmfsod.engine.index_skip_loop import draws_keyed_by_index

CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
TFA_BASE = osp.join(CONFIGS, 'tfa_tiny_base-training.py')


class DrawingDataset(torch.utils.data.Dataset):
    """Items that are nothing but draws from the three global generators,
    as a pipeline's random transforms make them; two aspect ratios."""

    metainfo = dict(classes=('a', 'b'))

    def __init__(self, size: int = 6) -> None:
        self.size = size
        self.initialized = 0

    def full_init(self) -> None:
        self.initialized += 1

    def __len__(self) -> int:
        return self.size

    def get_data_info(self, idx: int) -> dict:
        return dict(idx=idx, width=4, height=8) if idx % 3 == 0 else dict(
            idx=idx, width=8, height=4)

    def __getitem__(self, idx: int) -> tuple:
        return (idx, random.random(), float(np.random.rand()), float(torch.rand(())))


def global_states():
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def assert_same_states(a, b):
    assert a[0] == b[0]
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
    assert torch.equal(a[2], b[2])


def test_an_item_depends_only_on_seed_pass_and_index():
    ds = KeyedDrawsDataset(DrawingDataset(), seed=3)
    first = ds[(1, 4)]
    random.random(), np.random.rand(5), torch.rand(7), ds[(0, 2)], ds[(5, 4)]  # other draws
    assert ds[(1, 4)] == first
    # a second dataset, in another order: the same item
    other = KeyedDrawsDataset(DrawingDataset(), seed=3)
    other[(0, 0)]
    assert other[(1, 4)] == first
    assert ds[4] == ds[(0, 4)] == ds[-2] == ds[(0, -2)]  # an int is pass 0
    # every generator draws differently in other passes, indices and seeds
    draws = [ds[(p, i)][1:] for p in range(3) for i in range(6)]
    draws.append(KeyedDrawsDataset(DrawingDataset(), seed=4)[(1, 4)][1:])
    for g in range(3):
        assert len({d[g] for d in draws}) == len(draws), g


def test_the_global_streams_are_left_untouched():
    ds = KeyedDrawsDataset(DrawingDataset())
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    before = global_states()
    ds[(2, 1)]
    assert_same_states(global_states(), before)
    expected = (random.random(), np.random.rand(), torch.rand(()))
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    ds[(0, 3)]
    assert (random.random(), np.random.rand(), torch.rand(())) == expected
    with pytest.raises(ZeroDivisionError):  # restored after an error too
        with keyed_draws.seeded_global_rngs([1, 2]):
            1 / 0
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    assert (random.random(), np.random.rand(), torch.rand(())) == expected


def test_wrapper_delegates_and_checks_its_input():
    inner = DrawingDataset()
    with DefaultScope.overwrite_default_scope('mmdet'):  # whatever a test before left
        ds = DATASETS.build(dict(type='KeyedDrawsDataset', dataset=inner))
    assert inner.initialized == 1 and ds.seed == 0
    assert len(ds) == 6 and ds.metainfo == inner.metainfo and ds.size == 6
    assert ds.get_data_info((3, 2)) == ds.get_data_info(2) == inner.get_data_info(2)
    assert draws_keyed_by_index(ds) and not draws_keyed_by_index(inner)
    assert KeyedDrawsDataset(DrawingDataset(), lazy_init=True).dataset.initialized == 0
    with pytest.raises(IndexError, match='index 6 out of range'):
        ds[(0, 6)]
    with pytest.raises(TypeError, match=r'an int or a \(pass >= 0, idx\) pair'):
        ds[(-1, 2)]
    with pytest.raises(TypeError, match='KeyedDrawsDataset.seed must be an int'):
        KeyedDrawsDataset(inner, seed='0')
    with pytest.raises(TypeError, match='KeyedDrawsDataset.dataset must be a dataset'):
        KeyedDrawsDataset(3)
    with pytest.raises(AttributeError):
        ds.no_such_attribute


def loader_items(num_workers: int, batches: int = 5):
    ds = KeyedDrawsDataset(DrawingDataset(), seed=1)
    sampler = PassInfiniteSampler(ds, shuffle=True, seed=0)
    loader = DataLoader(ds, batch_sampler=AspectRatioBatchSampler(sampler, batch_size=2),
                        num_workers=num_workers, collate_fn=lambda batch: batch)
    it = iter(loader)
    return [item for _ in range(batches) for item in next(it)]


def test_items_are_the_same_whatever_the_workers():
    """Through PassInfiniteSampler and AspectRatioBatchSampler, which passes
    ``(pass, idx)`` to ``get_data_info``: 10 items across passes, loaded
    in the main process or by 2 workers (each its own global streams)."""
    in_main = loader_items(0)
    assert in_main == loader_items(2)
    assert len({item[1] for item in in_main}) == len(in_main)


# ------------------------------------------------------------ TFA configs
@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(REPO, 'configs', 'tfa', '*', '*.py'))
    + glob.glob(osp.join(CONFIGS, 'tfa_tiny_*.py'))), ids=osp.basename)
def test_tfa_configs_key_their_draws(config):
    cfg = Config.fromfile(config)
    loader = cfg.train_dataloader
    assert loader.sampler.type == 'PassInfiniteSampler', config
    assert loader.dataset.type == 'KeyedDrawsDataset', config
    assert loader.dataset.dataset.type in ('FewShotCocoDataset', 'ToyShapesDataset',
                                           'FewShotVOCDataset', 'ToyShapesVOCDataset'), config
    assert cfg.train_cfg.type == 'IndexSkipIterBasedTrainLoop', config


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def train_tfa(work_dir, options, resume_from=None):
    cfg = Config.fromfile(TFA_BASE)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(options)
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, str(resume_from)
    cfg.model.backbone.init_cfg = None
    Runner.from_cfg(cfg).train()
    with open(glob.glob(str(work_dir / '*' / '*.log'))[0]) as f:
        return f.read()


# random resize and flip in the tiny TFA pipeline: draws in the workers
RANDOM_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(96, 96), (160, 160)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
TFA_OPTIONS = {'default_hooks.checkpoint.interval': 1,
               'default_hooks.checkpoint.max_keep_ckpts': -1,
               'train_dataloader.dataset.dataset.pipeline': RANDOM_PIPELINE,
               'train_dataloader.num_workers': 1,
               'train_dataloader.persistent_workers': True,
               'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None}


def resume_difference(tmp_path, resumed_options=None) -> float:
    """The tiny TFA base training for 3 iterations with a worker, and a run
    resumed from its iteration 1 (with ``resumed_options`` on top): the
    largest weight difference at iteration 3."""
    train_tfa(tmp_path / 'full', TFA_OPTIONS)
    log = train_tfa(tmp_path / 'resumed', {**TFA_OPTIONS, **(resumed_options or {})},
                    resume_from=tmp_path / 'full' / 'iter_1.pth')
    assert 'skipped the 1 trained batches at the index level' in log
    assert 'by loading the 1 trained batches again' not in log
    assert 'Advance dataloader' not in log  # mmengine's line, untrue here
    full = weights(tmp_path / 'full' / 'iter_3.pth')
    resumed = weights(tmp_path / 'resumed' / 'iter_3.pth')
    assert full.keys() == resumed.keys()
    return max((full[k].double() - resumed[k].double()).abs().max().item()
               for k in full if full[k].numel())


def test_tfa_resume_with_a_worker_skips_indices_and_is_bit_exact(fsod_toy_root, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    assert resume_difference(tmp_path) == 0


def test_tfa_resume_with_other_workers_is_bit_exact(fsod_toy_root, tmp_path, monkeypatch):
    """PassInfiniteSampler derives its stream from its seed (no generator
    of its own in the checkpoint) and the draws are keyed: a resume with no
    worker continues the run written with one exactly."""
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    assert resume_difference(tmp_path, {'train_dataloader.num_workers': 0,
                                        'train_dataloader.persistent_workers': False}) == 0


def test_tfa_resume_without_keyed_draws_differs(fsod_toy_root, tmp_path, monkeypatch):
    """The same resume with the seeding taken out of the wrapper (the loop
    still skips indices): the worker's transforms differ, so do the
    weights. (The test above can fail.)"""
    import contextlib
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    monkeypatch.setattr(keyed_draws, 'seeded_global_rngs',
                        lambda key: contextlib.nullcontext())
    assert resume_difference(tmp_path) > 0
