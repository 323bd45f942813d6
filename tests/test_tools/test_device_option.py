"""``--device`` of the tools that run a model: one helper
(:mod:`mmfsod.utils.device`), ``auto`` by default, one error line."""
import argparse
import importlib.util
import os.path as osp

import pytest
import torch

from conftest import REPO
from mmfsod.utils.device import add_device_arg, is_cuda, resolve_device

# tool -> the fewest arguments its parser accepts
TOOLS = {
    'tools/few_shot_demo.py': ['q.jpg', 'cfg.py', 'ckpt.pth'],
    'tools/analysis_tools/proposal_recall.py': ['cfg.py', 'ckpt.pth'],
    'tools/analysis_tools/calibrate_early_exit.py': ['cfg.py', 'ckpt.pth',
                                                     '--target-gmacs', '1'],
    'tools/analysis_tools/localize_patches.py': ['cfg.py', 'ckpt.pth', 'imgs',
                                                 '--out-dir', 'out'],
    'tools/analysis_tools/benchmark_gcn_fsod.py': [],
    'tools/analysis_tools/benchmark_patch_pipeline.py': ['cfg.py', 'ckpt.pth'],
    'tools/analysis_tools/pair_loss.py': ['cfg.py', 'ckpt.pth'],
}


def load_tool(path):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0] + '_under_test', osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(module, argv):
    out = module.parse_args(argv)
    return out[1] if isinstance(out, tuple) else out  # few_shot_demo: (parser, args)


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine with two visible CUDA devices, as far as the checks see."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def test_resolve_device_without_cuda(no_gpu):
    assert resolve_device('auto') == resolve_device(None) == 'cpu'
    assert resolve_device('cpu') == 'cpu' and resolve_device(' AUTO ') == 'cpu'
    with pytest.raises(ValueError) as error:
        resolve_device('cuda')
    message = str(error.value)
    assert message.startswith('--device cuda: no CUDA device visible '
                              '(torch.cuda.is_available() is False; torch ')
    assert ('built with CUDA' in message) == (torch.version.cuda is not None)
    assert '\n' not in message
    with pytest.raises(ValueError, match=r'^device cuda:1: no CUDA device visible'):
        resolve_device('cuda:1', 'device')
    with pytest.raises(ValueError, match=r"--device gpu: not a device; use 'auto'"):
        resolve_device('gpu')


def test_resolve_device_with_cuda(two_gpus):
    assert resolve_device('auto') == 'cuda'
    assert resolve_device('cuda') == 'cuda' and resolve_device('cuda:1') == 'cuda:1'
    assert resolve_device('cpu') == 'cpu'
    with pytest.raises(ValueError, match=r'--device cuda:2: no such CUDA device, 2 '
                       r'visible \(cuda:0 to cuda:1;'):
        resolve_device('cuda:2')
    assert is_cuda('cuda:1') and is_cuda(torch.device('cuda')) and not is_cuda('cpu')


@pytest.mark.parametrize('tool', sorted(TOOLS))
def test_every_tool_has_device_auto(tool, no_gpu, capsys):
    module = load_tool(tool)
    assert parse(module, TOOLS[tool]).device == 'cpu'  # auto, without CUDA
    assert parse(module, TOOLS[tool] + ['--device', 'cpu']).device == 'cpu'
    with pytest.raises(SystemExit) as exit_:
        parse(module, TOOLS[tool] + ['--device', 'cuda:0'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        'error: --device cuda:0: no CUDA device visible (torch.cuda.is_available() is '
        f'False; {err[0].split("; ", 1)[1]}')
    with pytest.raises(SystemExit):  # --help explains it
        parse(module, ['--help'])
    assert "'auto' (CUDA if a CUDA device is visible, else CPU" in \
        ' '.join(capsys.readouterr().out.split())


def test_tools_pick_cuda_when_visible(two_gpus):
    for tool in ('tools/analysis_tools/proposal_recall.py', 'tools/few_shot_demo.py'):
        module = load_tool(tool)
        assert parse(module, TOOLS[tool]).device == 'cuda'
        assert parse(module, TOOLS[tool] + ['--device', 'cuda:1']).device == 'cuda:1'


def test_paper_operating_point_stays_on_the_cpu(two_gpus, capsys):
    module = load_tool('tools/analysis_tools/benchmark_patch_pipeline.py')
    assert parse(module, ['--paper-operating-point']).device == 'cpu'
    assert parse(module, ['cfg.py', 'ckpt.pth']).device == 'cuda'
    with pytest.raises(SystemExit):
        parse(module, ['--paper-operating-point', '--device', 'cuda'])
    assert 'measures the CPU only' in capsys.readouterr().err


def test_add_device_arg_default_none_is_left_to_the_tool(no_gpu):
    parser = argparse.ArgumentParser()
    add_device_arg(parser, default=None)
    assert parser.parse_args([]).device is None
    assert parser.parse_args(['--device=auto']).device == 'cpu'
