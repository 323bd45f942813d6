"""Exact resume (RandomStateHook): a run interrupted after a checkpoint and
resumed ends bit-identical to the uninterrupted run, for the GCN-FSOD,
AnchorNet and patch fine-tuning configs (in-process runners, CPU), and
the random states themselves round-trip."""
import glob
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from mmfsod.compat import MMENGINE_CHECKPOINT_GLOBALS
from mmfsod.engine import (EpochWorkerSeed, generator_states, global_random_states,
                           set_generator_states, set_global_random_states)
from mmfsod.utils.toy_clutter import generate_toy_clutter

CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
CLUTTER = dict(num_train=12, num_val=6, num_classes=6, img_size=128, seed=0)


@pytest.fixture(scope='module')
def clutter_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clutter') / 'toy_clutter') + '/'
    generate_toy_clutter(root, **CLUTTER)
    return root


def write_lsp_records(root: str, path: str) -> str:
    """LSP patch records of the tiny training images: two patches each, of
    63 and 95 px (two sizes, so PatchSizeBatchSampler groups them)."""
    with open(osp.join(root, 'meta', 'train.txt')) as f:
        lines = [line.split() for line in f if line.strip()]
    with open(path, 'w') as f:
        for i, (name, label) in enumerate(lines):
            x, y = (i * 7) % 60, (i * 11) % 30
            record = dict(img_path=osp.join(root, 'train', name), sample_idx=i,
                          input_size=[128, 128], gt_label=int(label),
                          patches=[dict(box=[x, y, x + 63, y + 63], activation=1.0),
                                   dict(box=[10, 20, 105, 115], activation=0.5)])
            f.write(json.dumps(record) + '\n')
    return path


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() if a[k].numel() else 0.0
               for k in a)


def train(config, work_dir, options, resume_from=None):
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(options)
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, str(resume_from)
    Runner.from_cfg(cfg).train()


def check_resume(config, tmp_path, options, resume_from, final):
    """Uninterrupted run (a checkpoint every step), then a run resumed from
    ``resume_from`` of it: the final weights must agree bit for bit."""
    train(config, tmp_path / 'full', options)
    train(config, tmp_path / 'resumed', options,
          resume_from=tmp_path / 'full' / resume_from)
    diff = max_difference(weights(tmp_path / 'full' / final),
                          weights(tmp_path / 'resumed' / final))
    print(f'{osp.basename(config)}: resumed from {resume_from}, max |w - w_ref| = {diff}')
    return diff


ITER_OPTIONS = {'default_hooks.checkpoint.interval': 1,
                'default_hooks.checkpoint.max_keep_ckpts': -1,
                # validation after the checkpoint it follows: must not count
                'train_cfg.val_interval': 1,
                'val_dataloader.dataset.indices': 2}


def test_gcn_fsod_resume_is_bit_exact(fsod_toy_root, tmp_path, monkeypatch):
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    config = osp.join(CONFIGS, 'gcn_fsod_tiny_base-training.py')
    assert check_resume(config, tmp_path, ITER_OPTIONS, 'iter_1.pth', 'iter_3.pth') == 0


def test_gcn_fsod_resume_across_a_pass_is_bit_exact(fsod_toy_root, tmp_path, monkeypatch):
    """3 query images, batches of 2: the 3 iterations run 2 passes of fresh
    draws (PassInfiniteSampler); resumed after iteration 1, the replayed
    stream reaches pass 1 as the uninterrupted run did."""
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    config = osp.join(CONFIGS, 'gcn_fsod_tiny_base-training.py')
    cfg = Config.fromfile(config)
    assert cfg.train_dataloader.sampler.type == 'PassInfiniteSampler'
    options = {'default_hooks.checkpoint.interval': 1,
               'default_hooks.checkpoint.max_keep_ckpts': -1,
               'train_dataloader.dataset.dataset.indices': 3,
               # no validation: no templates of every class needed
               'custom_hooks': [], 'val_cfg': None, 'val_dataloader': None,
               'val_evaluator': None}
    assert check_resume(config, tmp_path, options, 'iter_1.pth', 'iter_3.pth') == 0


def test_gcn_fsod_resume_with_a_worker_skips_indices(fsod_toy_root, tmp_path, monkeypatch):
    """A persistent dataloader worker, across a pass: the resume skips the
    trained batches at the index level (QuerySupportDataset keys its draws)
    and the worker prefetches from the first new batch on."""
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    config = osp.join(CONFIGS, 'gcn_fsod_tiny_base-training.py')
    options = {'default_hooks.checkpoint.interval': 1,
               'default_hooks.checkpoint.max_keep_ckpts': -1,
               'train_dataloader.dataset.dataset.indices': 3,
               'train_dataloader.num_workers': 1,
               'train_dataloader.persistent_workers': True,
               'custom_hooks': [], 'val_cfg': None, 'val_dataloader': None,
               'val_evaluator': None}
    assert check_resume(config, tmp_path, options, 'iter_1.pth', 'iter_3.pth') == 0
    logs = glob.glob(str(tmp_path / 'resumed' / '*' / '*.log'))
    with open(logs[0]) as f:
        log = f.read()
    assert 'skipped the 1 trained batches at the index level' in log
    assert 'Advance dataloader' not in log  # mmengine's line, untrue here


def test_anchornet_resume_is_bit_exact(clutter_root, tmp_path, monkeypatch):
    monkeypatch.setenv('MMFSOD_TEST_CLUTTER_ROOT', clutter_root)
    config = osp.join(CONFIGS, 'anchornet_tiny.py')
    options = {'train_cfg.val_interval': 1, 'train_cfg.max_epochs': 2}
    assert check_resume(config, tmp_path, options, 'epoch_1.pth', 'epoch_2.pth') == 0


def test_anchornet_resume_with_persistent_workers(clutter_root, tmp_path, monkeypatch):
    """Worker processes (persistent) draw the flips: a resumed epoch must
    give its workers the generators the uninterrupted run gave them."""
    monkeypatch.setenv('MMFSOD_TEST_CLUTTER_ROOT', clutter_root)
    config = osp.join(CONFIGS, 'anchornet_tiny.py')
    options = {'train_cfg.max_epochs': 2, 'train_dataloader.num_workers': 1,
               'train_dataloader.persistent_workers': True}
    assert check_resume(config, tmp_path, options, 'epoch_1.pth', 'epoch_2.pth') == 0


def test_patch_fine_tuning_resume_is_bit_exact(clutter_root, tmp_path, monkeypatch):
    records = write_lsp_records(clutter_root, str(tmp_path / 'records.jsonl'))
    monkeypatch.setenv('MMFSOD_TEST_LSP_RECORDS', records)
    config = osp.join(CONFIGS, 'patch_ft_tiny.py')
    assert check_resume(config, tmp_path, {}, 'epoch_1.pth', 'epoch_2.pth') == 0


def test_without_the_hook_resume_differs(clutter_root, tmp_path, monkeypatch):
    """The control: without restoring the states, the resumed run draws other flips
    (so the exact tests above can fail)."""
    monkeypatch.setenv('MMFSOD_TEST_CLUTTER_ROOT', clutter_root)
    config = osp.join(CONFIGS, 'anchornet_tiny.py')
    options = {'train_cfg.max_epochs': 2, 'default_hooks.random_state.restore': False}
    assert check_resume(config, tmp_path, options, 'epoch_1.pth', 'epoch_2.pth') > 0


def test_checkpoint_holds_each_rank_state_and_loads_weights_only(clutter_root, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv('MMFSOD_TEST_CLUTTER_ROOT', clutter_root)
    train(osp.join(CONFIGS, 'anchornet_tiny.py'), tmp_path,
          {'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 100})
    # the states need no class beyond those mmengine checkpoints already carry
    with torch.serialization.safe_globals(MMENGINE_CHECKPOINT_GLOBALS):
        ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    states = ckpt['meta']['random_states']
    assert isinstance(states, list) and len(states) == 1  # one rank
    assert set(states[0]) >= {'python', 'numpy', 'torch', 'generators'}


# ------------------------------------------------------------ the functions
def test_global_states_round_trip():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    states = global_random_states()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_global_random_states(states)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


class _Sampler:
    def __init__(self):
        self.rng = np.random.default_rng(0)
        self.torch_gen = torch.Generator().manual_seed(1)


class _Dataset:
    def __init__(self):
        self.py_rng = random.Random(4)
        self.dataset = type('Inner', (), {})()
        self.dataset.legacy = np.random.RandomState(5)


def test_generators_of_datasets_and_samplers_round_trip():
    loader = type('Loader', (), {})()
    loader.dataset, loader.sampler, loader.batch_sampler = _Dataset(), _Sampler(), None
    states = generator_states(loader)
    assert set(states) == {'train_dataloader.dataset.py_rng',
                           'train_dataloader.dataset.dataset.legacy',
                           'train_dataloader.sampler.rng',
                           'train_dataloader.sampler.torch_gen'}

    def draw():
        return (loader.dataset.py_rng.random(), loader.dataset.dataset.legacy.rand(),
                loader.sampler.rng.random(), torch.rand(1, generator=loader.sampler.torch_gen))
    expected = draw()
    draw()
    assert set_generator_states(loader, states) == []
    assert draw() == expected
    loader.sampler.rng = random.Random(0)  # another kind now
    with pytest.raises(TypeError, match='train_dataloader.sampler.rng'):
        set_generator_states(loader, states)


def test_epoch_worker_seed_follows_the_epoch():
    seeder = EpochWorkerSeed(seed=0, rank=1, num_workers=2)
    first = seeder.worker_seed(0)
    assert first != seeder.worker_seed(1)
    seeder.epoch = 1
    assert seeder.worker_seed(0) != first
    seeder.epoch = 0
    assert seeder.worker_seed(0) == first
    seeder(0)
    a = np.random.rand()
    seeder(0)
    assert np.random.rand() == a
