"""IndexSkipIterBasedTrainLoop: a resume skips the trained batches at the
index level (no item of them is loaded) and still ends bit-identical to the
uninterrupted run, with a dataset and a sampler that hold generators of their
own; RandomStateHook gathers the random states only on the steps that save.
A tiny linear model on a toy dataset, in-process runners on the CPU."""
import numpy as np
import pytest
import torch
from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.base_loop import BaseLoop
from torch import nn
from torch.utils.data import Sampler

import mmfsod  # noqa: F401  (registers the loop and the hook)
from mmfsod.engine import IndexSkipIterBasedTrainLoop, random_state_hook, skip_batches


class GeneratorDataset(torch.utils.data.Dataset):
    """Items whose noise is drawn from the dataset's own generator, so an
    item depends on how many were loaded before; two aspect ratios, so
    AspectRatioBatchSampler groups indices into batches of its own."""

    def __init__(self, size: int = 10, log=None) -> None:
        self.size = size
        self.rng = np.random.default_rng(0)
        self.loaded = []  # indices given to __getitem__, in order (this process)
        self.log = log  # a file each loaded index is appended to (any process)

    def __len__(self) -> int:
        return self.size

    def get_data_info(self, idx: int) -> dict:
        return dict(width=4, height=8) if idx % 3 == 0 else dict(width=8, height=4)

    def __getitem__(self, idx: int) -> dict:
        self.loaded.append(int(idx))
        if self.log is not None:
            with open(self.log, 'a') as f:
                f.write(f'{idx}\n')
        noise = 0.1 * self.rng.normal(size=4)
        x = torch.full((4,), float(idx)) + torch.from_numpy(noise).float()
        return dict(inputs=x, data_samples=torch.tensor(float(idx % 3)))


class GeneratorSampler(Sampler):
    """An infinite sampler drawing every index from its own generator."""

    def __init__(self, dataset, seed=None) -> None:
        self.dataset = dataset
        self.generator = torch.Generator().manual_seed(1)

    def __len__(self) -> int:  # as mmengine's InfiniteSampler
        return len(self.dataset)

    def __iter__(self):
        while True:
            yield int(torch.randint(len(self.dataset), (1,), generator=self.generator))


class LinearModel(BaseModel):
    """A linear regressor; its step also draws from torch's global generator."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)  # (B, 4)
        x = x + 0.1 * torch.randn_like(x)
        out = self.fc(x).squeeze(1)  # (B,)
        if mode == 'loss':
            return dict(loss=((out - torch.stack(data_samples)) ** 2).mean())
        return out


def make_runner(work_dir, loop='IndexSkipIterBasedTrainLoop', max_iters=6, interval=1,
                resume_from=None, num_workers=0, dataset=None, **loop_args):
    return Runner(
        model=dict(type=LinearModel), work_dir=str(work_dir),
        experiment_name=f'{work_dir.parent.name}_{work_dir.name}',
        train_dataloader=dict(dataset=dataset or GeneratorDataset(),
                              sampler=dict(type=GeneratorSampler),
                              batch_sampler=dict(type=AspectRatioBatchSampler),
                              batch_size=2, num_workers=num_workers),
        train_cfg=dict(type=loop, max_iters=max_iters, val_interval=100, **loop_args),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=interval,
                                           by_epoch=False, max_keep_ckpts=-1),
                           logger=dict(type='LoggerHook', interval=1),
                           random_state=dict(type='RandomStateHook')),
        randomness=dict(seed=0), resume=resume_from is not None,
        load_from=None if resume_from is None else str(resume_from))


def final_weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_skips_indices_and_is_bit_exact(tmp_path):
    full = make_runner(tmp_path / 'full')
    full.train()
    resumed = make_runner(tmp_path / 'resumed', resume_from=tmp_path / 'full' / 'iter_3.pth')
    resumed.train()
    assert_same(final_weights(tmp_path / 'full' / 'iter_6.pth'),
                final_weights(tmp_path / 'resumed' / 'iter_6.pth'))
    # no item of the first 3 iterations was loaded: only those of 4..6, the
    # ones the uninterrupted run loaded there (batches of 2)
    loaded = resumed.train_dataloader.dataset.loaded
    assert loaded == full.train_dataloader.dataset.loaded[6:]
    assert len(loaded) == 6


def test_without_restoring_the_generators_resume_differs(tmp_path, monkeypatch):
    """The control: the dataset's generator is at its initial state after
    the skip (no item loaded); without the restore the draws differ."""
    make_runner(tmp_path / 'full').train()
    monkeypatch.setattr(random_state_hook, 'set_generator_states', lambda *a, **k: [])
    make_runner(tmp_path / 'resumed', resume_from=tmp_path / 'full' / 'iter_3.pth').train()
    a = final_weights(tmp_path / 'full' / 'iter_6.pth')
    b = final_weights(tmp_path / 'resumed' / 'iter_6.pth')
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_fresh_run_draws_as_mmengine_loop(tmp_path):
    """Without resume, the loop trains as mmengine's IterBasedTrainLoop,
    bit for bit (it draws the dataloader's base seed where mmengine does)."""
    make_runner(tmp_path / 'ours', max_iters=3).train()
    make_runner(tmp_path / 'mmengine', loop='IterBasedTrainLoop', max_iters=3).train()
    assert_same(final_weights(tmp_path / 'ours' / 'iter_3.pth'),
                final_weights(tmp_path / 'mmengine' / 'iter_3.pth'))


def test_replay_mode_loads_the_trained_batches(tmp_path):
    make_runner(tmp_path / 'full', max_iters=4).train()
    resumed = make_runner(tmp_path / 'resumed', max_iters=4, skip='replay',
                          resume_from=tmp_path / 'full' / 'iter_2.pth')
    resumed.train()
    assert len(resumed.train_dataloader.dataset.loaded) == 8
    assert_same(final_weights(tmp_path / 'full' / 'iter_4.pth'),
                final_weights(tmp_path / 'resumed' / 'iter_4.pth'))


def test_auto_mode_skips_where_exact(tmp_path):
    loop = make_runner(tmp_path / 'a', num_workers=1).train_loop
    assert isinstance(loop, IndexSkipIterBasedTrainLoop)
    assert loop.skip_mode(5) == 'replay'  # workers draw, unkeyed dataset
    loop.dataloader.dataset.accepts_pass_index = True  # draws keyed by index
    assert loop.skip_mode(5) == 'index'
    assert loop.skip_mode(0) == 'replay'
    assert make_runner(tmp_path / 'b').train_loop.skip_mode(5) == 'index'
    with pytest.raises(ValueError, match='skip must be one of'):
        make_runner(tmp_path / 'c', skip='fast').train_loop


def test_resume_with_a_worker_and_keyed_draws_loads_no_trained_item(tmp_path):
    """A worker prefetches from the first new batch on: every item loaded
    (in the worker, which logs it to a file) is of the new batches."""
    def keyed(log):
        dataset = GeneratorDataset(log=str(tmp_path / log))
        dataset.accepts_pass_index = True  # draws keyed by index: skipped with workers
        return dataset
    # the checkpoint of a run with the same prefetch (the sampler's generator
    # it holds is 2 batches ahead)
    make_runner(tmp_path / 'full', max_iters=3, interval=3, num_workers=1,
                dataset=keyed('full.txt')).train()
    runner = make_runner(tmp_path / 'resumed', max_iters=4, num_workers=1,
                         dataset=keyed('loaded.txt'),
                         resume_from=tmp_path / 'full' / 'iter_3.pth')
    runner.train()
    with open(tmp_path / 'loaded.txt') as f:
        loaded = [int(line) for line in f]
    # the stream after its first 3 batches, as the sampler gives it
    batches, _ = skip_batches(make_runner(tmp_path / 'ref').train_dataloader, 3)
    stream = [i for _ in range(4) for i in next(batches)]
    assert 2 <= len(loaded) <= len(stream) and loaded == stream[:len(loaded)]
    assert not runner.train_dataloader.dataset.loaded  # nothing in the main process


def test_skip_batches_restarts_a_finite_sampler():
    from mmengine.dataset import DefaultSampler
    dataset = GeneratorDataset(size=5)
    sampler = DefaultSampler(dataset, shuffle=True, seed=0)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=AspectRatioBatchSampler(sampler, batch_size=2),
        collate_fn=lambda x: x)
    # replay as mmengine's infinite iterator: 3 batches per epoch (2 + 1 + ...)
    expected, epoch = [], 0
    for _ in range(3):
        sampler.set_epoch(epoch)
        expected += [b for b in AspectRatioBatchSampler(sampler, batch_size=2)]
        epoch += 1
    sampler.set_epoch(0)
    per_epoch = len(expected) // 3
    batches, epoch = skip_batches(loader, per_epoch + 1)
    assert epoch == 1 and next(batches) == expected[per_epoch + 1]
    with pytest.raises(RuntimeError, match='gives no batch'):
        skip_batches(torch.utils.data.DataLoader([], batch_size=2), 1)


# ------------------------------------------------- gathering the random states
def test_states_are_gathered_only_on_checkpoint_iterations(tmp_path, monkeypatch):
    calls = []

    def all_gather(states):
        calls.append(runner.iter)
        return [states, states]
    monkeypatch.setattr(random_state_hook, 'get_world_size', lambda: 2)
    monkeypatch.setattr(random_state_hook, 'all_gather_object', all_gather)
    runner = make_runner(tmp_path, max_iters=7, interval=3)
    runner.train()
    assert calls == [2, 5, 6]  # after iterations 3, 6 and the last (save_last)
    ckpt = torch.load(tmp_path / 'iter_6.pth', weights_only=False)
    assert len(ckpt['meta']['random_states']) == 2


def test_checkpoint_due_follows_the_checkpoint_hook(tmp_path):
    runner = make_runner(tmp_path, max_iters=7, interval=3)
    runner.train()  # builds the loops and hooks

    def due(it, epoch_end=False):
        runner.train_loop._iter = it
        return random_state_hook.checkpoint_due(runner, epoch_end)
    assert [it for it in range(7) if due(it)] == [2, 5, 6]
    assert not due(6, epoch_end=True)  # saves by iteration, not by epoch
    hook = next(h for h in runner.hooks if type(h).__name__ == 'CheckpointHook')
    hook.save_last, hook.save_best = False, ['loss']
    assert [it for it in range(7) if due(it)] == [2, 5]  # no validation: no best
    # a validation loop, after every 2 iterations and the last
    runner._val_loop = type('Val', (BaseLoop,), dict(run=lambda self: None))(
        runner, runner.train_dataloader)
    runner.train_loop.dynamic_intervals = [2]
    assert [it for it in range(7) if due(it)] == [1, 2, 3, 5, 6]


def test_skip_batches_is_per_rank(monkeypatch):
    """Each rank's sampler slices the one stream: the skip of a rank gives
    the batch that rank's uninterrupted stream gives after n batches."""
    import mmengine.dataset.sampler as mmengine_sampler
    from mmengine.dataset import InfiniteSampler
    dataset = GeneratorDataset(size=9)
    firsts = []
    for rank in (0, 1):
        monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda: (rank, 2))

        def loader():
            sampler = InfiniteSampler(dataset, shuffle=True, seed=3)
            return torch.utils.data.DataLoader(
                dataset, batch_sampler=AspectRatioBatchSampler(sampler, batch_size=2))
        stream = iter(loader().batch_sampler)
        expected = [next(stream) for _ in range(8)]
        batches, epoch = skip_batches(loader(), 7)
        assert epoch == 0 and next(batches) == expected[7]
        firsts.append(expected[0])
    assert firsts[0] != firsts[1]  # the ranks take other indices
