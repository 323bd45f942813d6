"""Checkpoints across devices: one saved on a GPU read on a CPU-only machine,
and one saved on the CPU read onto a (fake) GPU.

A "GPU checkpoint" is made here without a GPU: ``torch.save`` records each
storage's device (``location_tag``) in the file, and recording ``cuda:0``
writes exactly what a CUDA run writes (the bytes of a tensor do not depend
on its device). Loading such a file restores each storage on its recorded
device unless ``map_location`` says otherwise.

What the project's loaders do (documented in docs/get_started.md, "Compatibility fixes"):
``load_from``, ``tools/test.py`` (Runner.load_checkpoint), mmdet's
``init_detector``, mmpretrain's ``init_model``, ``FewShotDetInferencer``,
``load_patch_classifier`` and the tools read to the CPU
(``map_location='cpu'``) and then move the model; ``--resume`` maps to the
machine's device (mmengine's ``get_device()``: CUDA if visible, else CPU).
"""
import os.path as osp
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

from conftest import TINY_DET_CONFIG
from mmfsod.compat import CorruptCheckpointError

CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(),
                              reason='checks what a CPU-only machine does')


def save_as_if_on(obj, path, location='cuda:0'):
    """``torch.save(obj, path)`` with every storage recorded on ``location``,
    as a run on that device writes it."""
    with mock.patch.object(torch.serialization, 'location_tag', lambda storage: location):
        torch.save(obj, path)
    return str(path)


def storage_locations(path):
    """The device recorded for each storage of the file (nothing is moved)."""
    locations = []
    torch.load(path, weights_only=False,
               map_location=lambda storage, loc: locations.append(loc) or storage)
    return locations


def tiny_cfg(work_dir):
    cfg = Config.fromfile(TINY_DET_CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.val_interval = 1000  # no evaluation
    return cfg


def small_checkpoint():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    return model, dict(meta=dict(iter=3), state_dict=model.state_dict())


def test_a_gpu_checkpoint_is_recorded_on_cuda(tmp_path):
    model, ckpt = small_checkpoint()
    path = save_as_if_on(ckpt, tmp_path / 'gpu.pth')
    assert set(storage_locations(path)) == {'cuda:0'}
    assert set(storage_locations(save_as_if_on(ckpt, tmp_path / 'cpu.pth', 'cpu'))) == {'cpu'}


def test_gpu_checkpoint_loads_on_the_cpu_with_map_location(tmp_path):
    """What load_from, tools/test.py, the inferencers and the tools do."""
    model, ckpt = small_checkpoint()
    path = save_as_if_on(ckpt, tmp_path / 'gpu.pth')
    fresh = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    load_checkpoint(fresh, path, map_location='cpu')  # through mmfsod.compat's loader
    for key, value in model.state_dict().items():
        assert fresh.state_dict()[key].device.type == 'cpu'
        assert torch.equal(fresh.state_dict()[key], value), key


@CPU_ONLY
def test_gpu_checkpoint_without_map_location_is_a_clear_error(tmp_path):
    """Read to its recorded device on a machine without one: torch's own
    one-line error (the way out is in it), not a 'damaged checkpoint'."""
    _, ckpt = small_checkpoint()
    path = save_as_if_on(ckpt, tmp_path / 'gpu.pth')
    for load in (lambda: _load_checkpoint(path), lambda: torch.load(path)):
        with pytest.raises(RuntimeError) as error:
            load()
        assert not isinstance(error.value, CorruptCheckpointError)
        message = str(error.value)
        assert 'CUDA device but torch.cuda.is_available() is False' in message
        assert "map_location=torch.device('cpu')" in message


@CPU_ONLY
def test_resume_and_load_from_of_a_gpu_run_on_the_cpu(tiny_toy_root, tmp_path):
    """A 2-iteration run's checkpoint, rewritten as a GPU run writes it,
    resumes on the CPU (mmengine maps --resume to get_device()) with its
    optimizer state, and loads for test (load_from)."""
    cfg = tiny_cfg(tmp_path / 'gpu_run')
    Runner.from_cfg(cfg).train()
    saved = torch.load(osp.join(cfg.work_dir, 'iter_2.pth'), weights_only=False)  # ours
    path = save_as_if_on(saved, tmp_path / 'iter_2_gpu.pth')
    assert set(storage_locations(path)) == {'cuda:0'}

    cfg = tiny_cfg(tmp_path / 'resumed')
    cfg.train_cfg.max_iters = 3
    cfg.update(resume=True, load_from=path)
    runner = Runner.from_cfg(cfg)
    runner.train()  # resumes at iter 2, trains iter 3 on the CPU
    assert runner.iter == 3
    state = runner.optim_wrapper.state_dict()['state']
    assert state and all(s['momentum_buffer'].device.type == 'cpu' for s in state.values())
    assert all(p.device.type == 'cpu' for p in runner.model.parameters())

    runner = Runner.from_cfg(tiny_cfg(tmp_path / 'test'))
    runner.load_checkpoint(path)  # tools/test.py's load_from: map_location='cpu'
    weights = runner.model.state_dict()
    for key, value in saved['state_dict'].items():
        assert torch.equal(weights[key], value), key


def test_cpu_checkpoint_loads_onto_cuda(tmp_path):
    """The other way, on a fake CUDA device: a CPU checkpoint read with
    ``map_location='cuda'`` (--resume on a GPU machine) gives CUDA tensors,
    and one read to the CPU copies into a model already on CUDA."""
    model, ckpt = small_checkpoint()
    path = save_as_if_on(ckpt, tmp_path / 'cpu.pth', 'cpu')
    with FakeTensorMode(allow_non_fake_inputs=False) as mode:
        loaded = _load_checkpoint(path, map_location='cuda')  # through mmfsod.compat
        assert all(v.device.type == 'cuda' for v in loaded['state_dict'].values())
        cuda_model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        for mod in cuda_model.modules():
            for name, param in list(mod._parameters.items()):
                mod._parameters[name] = nn.Parameter(mode.from_tensor(param).to('cuda'))
            for name, buf in list(mod._buffers.items()):
                mod._buffers[name] = mode.from_tensor(buf).to('cuda')
        cuda_model.load_state_dict(loaded['state_dict'])
        load_checkpoint(cuda_model, path, map_location='cpu')  # copied across devices
        assert all(p.device.type == 'cuda' for p in cuda_model.state_dict().values())
