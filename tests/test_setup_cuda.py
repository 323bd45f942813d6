"""mmcv's CUDA ops in the set-up: the decision (tools/misc/mmcv_cuda.py) on
made-up machines, check_env.py's per-device op checks, and setup_env.sh's
mmcv step run against a stub interpreter (nothing is installed)."""
import json
import os
import os.path as osp
import shutil
import stat
import subprocess
import sys

import pytest
import torch

from conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))
import check_env  # noqa: E402
import mmcv_cuda  # noqa: E402
from mmcv_cuda import CudaEnv, decide  # noqa: E402

GPU = dict(torch_cuda='13.0', gpu_count=1)
TOOLKIT = dict(cuda_home='/opt/cuda-13.0', nvcc_version='13.0')
CPU_MMCV = dict(mmcv_ops=True, mmcv_cuda='not available')
CUDA_MMCV = dict(mmcv_ops=True, mmcv_cuda='13.0')

DECISIONS = [
    # (machine, expected action, words of the reason)
    (dict(torch_cuda='13.0', **CPU_MMCV), 'keep', 'no GPU visible'),  # this machine, CI
    (dict(torch_cuda='13.0'), 'cpu', 'does not import'),  # fresh CPU machine
    (dict(torch_cuda=None, **CPU_MMCV), 'keep', 'no GPU visible'),  # CPU-only torch
    (dict(**GPU, **TOOLKIT, **CPU_MMCV), 'cuda', 'CPU-only ops'),  # the wheelhouse wheel
    (dict(**GPU, **TOOLKIT), 'cuda', 'does not import'),
    (dict(**GPU, **TOOLKIT, **CUDA_MMCV), 'keep', 'CUDA 13.0 ops'),
    (dict(**GPU, **TOOLKIT, mmcv_ops=True, mmcv_cuda='12.1'), 'cuda', 'built for CUDA 12.1'),
    (dict(**GPU, **CPU_MMCV), 'refuse', "nvcc not found: install the CUDA toolkit matching "
                                        "torch's CUDA 13.0"),
    (dict(**GPU, **CPU_MMCV, toolkit_problem='CUDA_HOME=/x has no bin/nvcc'), 'refuse',
     'CUDA_HOME=/x has no bin/nvcc'),
    (dict(**GPU, **CPU_MMCV, cuda_home='/opt/cuda-12.4', nvcc_version='12.4'), 'refuse',
     "nvcc 12.4 (/opt/cuda-12.4/bin/nvcc) does not match torch's CUDA 13.0"),
    (dict(torch_cuda='13.0', **TOOLKIT, **CPU_MMCV, request='1'), 'cuda', 'MMFSOD_CUDA=1'),
    (dict(torch_cuda=None, **TOOLKIT, **CPU_MMCV, request='1'), 'refuse',
     'torch is a CPU-only build'),
    (dict(**GPU, **TOOLKIT, **CPU_MMCV, request='0'), 'keep', 'MMFSOD_CUDA=0'),
    (dict(**GPU, **TOOLKIT, **CPU_MMCV, extra_includes=('/p/nvidia/cu13/include', )), 'cuda',
     'with /p/nvidia/cu13/include for the CUDA library headers'),
    (dict(**GPU, **TOOLKIT, **CPU_MMCV, missing_headers=('cusparse.h', )), 'refuse',
     'the CUDA toolkit at /opt/cuda-13.0 lacks cusparse.h'),
    (dict(torch_cuda=None, gpus_listed=2, **CPU_MMCV), 'refuse',
     'nvidia-smi lists 2 GPU(s) but torch is a CPU-only build'),
    (dict(torch_cuda='13.0', gpus_listed=2, **CPU_MMCV), 'keep', 'WARNING'),
]


@pytest.mark.parametrize('machine,action,reason', DECISIONS)
def test_decide(machine, action, reason):
    got, why = decide(CudaEnv(**machine))
    assert got == action, why
    assert reason in why


def _fake_toolkit(root, release='13.0'):
    """A directory with bin/nvcc (printing ``release``) and include/cuda_runtime.h."""
    os.makedirs(osp.join(root, 'bin'))
    os.makedirs(osp.join(root, 'include'))
    open(osp.join(root, 'include', 'cuda_runtime.h'), 'w').close()
    nvcc = osp.join(root, 'bin', 'nvcc')
    with open(nvcc, 'w') as f:
        f.write('#!/bin/sh\necho "Cuda compilation tools, release %s, V%s.88"\n'
                % (release, release))
    os.chmod(nvcc, os.stat(nvcc).st_mode | stat.S_IEXEC)
    return str(root)


def test_find_cuda_home(tmp_path):
    home = _fake_toolkit(tmp_path / 'cuda-13.0')
    assert mmcv_cuda.find_cuda_home({'CUDA_HOME': home}) == (home, None)
    assert mmcv_cuda.find_cuda_home({'CUDA_HOME': str(tmp_path)}) == (
        None, f'CUDA_HOME={tmp_path} has no bin/nvcc and include/cuda_runtime.h')
    # nvcc on PATH through a link (as /usr/local/bin/nvcc): the link's target
    os.makedirs(tmp_path / 'bin')
    os.symlink(osp.join(home, 'bin', 'nvcc'), tmp_path / 'bin' / 'nvcc')
    assert mmcv_cuda.find_cuda_home({}, which=lambda _: str(tmp_path / 'bin' / 'nvcc'))[0] \
        == home
    assert mmcv_cuda.nvcc_release(osp.join(home, 'bin', 'nvcc')) == '13.0'


def test_probe_of_a_gpu_machine_with_a_cpu_mmcv(tmp_path, monkeypatch, capsys):
    """torch (CUDA 13.0) sees 2 GPUs, nvcc 13.0 on PATH, mmcv has CPU ops:
    build with CUDA, the library headers the toolkit lacks from torch's pip
    packages; with nvcc 12.4 instead: refuse, naming both versions."""
    home = _fake_toolkit(tmp_path / 'cuda-13.0')
    pip_include = tmp_path / 'site' / 'nvidia' / 'cu13' / 'include'
    os.makedirs(pip_include)
    for header in mmcv_cuda.LIBRARY_HEADERS:
        open(pip_include / header, 'w').close()
    monkeypatch.setattr(mmcv_cuda, 'pip_cuda_roots', lambda: [str(tmp_path / 'site')])
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    monkeypatch.setattr(mmcv_cuda.shutil, 'which',
                        lambda name: osp.join(home, 'bin', 'nvcc') if name == 'nvcc' else None)
    monkeypatch.setattr(mmcv_cuda, 'mmcv_compiled_cuda', lambda: (True, 'not available'))
    env = mmcv_cuda.probe({})
    assert (env.gpu_count, env.cuda_home, env.nvcc_version) == (2, home, '13.0')
    assert env.extra_includes == (str(pip_include), ) and env.missing_headers == ()
    assert mmcv_cuda.main({}) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == f'cuda {home} {pip_include}'
    assert 'sees 2 GPU(s)' in err
    old = _fake_toolkit(tmp_path / 'cuda-12.4', release='12.4')
    assert mmcv_cuda.main({'CUDA_HOME': old}) == 1
    out, err = capsys.readouterr()
    assert out == '' and "nvcc 12.4" in err and "torch's CUDA 13.0" in err
    with pytest.raises(ValueError, match='MMFSOD_CUDA'):
        mmcv_cuda.probe({'MMFSOD_CUDA': 'yes'})


def test_probe_of_this_machine():
    """The real probe: mmcv.ops imports (the set-up ran); CPU-only ops where
    torch sees no GPU, the decision is then to keep them."""
    env = mmcv_cuda.probe({})
    assert env.mmcv_ops and env.torch_cuda == torch.version.cuda
    if not torch.cuda.is_available():
        assert decide(env)[0] == 'keep'


# ------------------------------------------------------------------ check_env
def test_check_devices_reports_a_cpu_only_build(monkeypatch, capsys):
    """A CUDA device whose calls fail: named with the error, the rebuild
    command printed, exit 1; the CPU passes."""
    def fake_nms(device):
        if device.startswith('cuda'):
            raise RuntimeError('nms is not compiled with GPU support')

    failures = check_env.check_devices(['cpu', 'cuda:0'], checks=[fake_nms])
    assert failures == {'cuda:0': ['fake_nms: RuntimeError: nms is not compiled with GPU '
                                   'support']}
    assert check_env.check_devices(['cpu']) == {}  # the real ops on the CPU

    monkeypatch.setattr(check_env, 'visible_devices', lambda: ['cpu', 'cuda:0'])
    monkeypatch.setattr(check_env, 'DEVICE_CHECKS', (fake_nms, ))
    assert check_env.main() == 1
    err = capsys.readouterr().err
    assert 'FAILED on cuda:0: mmcv.ops fake_nms: RuntimeError: nms is not compiled' in err
    assert ('FORCE_CUDA=1 MMCV_WITH_OPS=1 ' in err and '-m pip install --no-build-isolation '
            '--no-binary mmcv --no-cache-dir --force-reinstall --no-deps mmcv==2.1.0' in err)


def test_check_env_on_fake_cuda_tensors(monkeypatch, capsys):
    """The real mmcv ops given CUDA tensors (FakeTensorMode, no GPU needed):
    this CPU-only build has no CUDA implementation, check_env says so."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from mmcv.ops import get_compiling_cuda_version
    if get_compiling_cuda_version() != 'not available':
        pytest.skip('mmcv has CUDA ops here')

    def under_fake_mode(check):
        def run(device):
            if device == 'cpu':
                return check(device)
            with FakeTensorMode():
                return check(device)
        run.__name__ = check.__name__
        return run

    checks = tuple(under_fake_mode(c) for c in (check_env.check_nms, check_env.check_roi_align))
    monkeypatch.setattr(check_env, 'visible_devices', lambda: ['cpu', 'cuda:0'])
    monkeypatch.setattr(check_env, 'DEVICE_CHECKS', checks)
    assert check_env.main() == 1
    err = capsys.readouterr().err
    assert 'FAILED on cpu' not in err
    assert 'nms_impl: implementation for device cuda:0 not found' in err
    assert 'roi_align_forward_impl: implementation for device cuda:0 not found' in err
    assert '--no-binary mmcv --no-cache-dir' in err


def test_roi_align_check_fails_on_wrong_numbers(monkeypatch):
    import mmcv.ops
    monkeypatch.setattr(mmcv.ops, 'roi_align', lambda feat, rois, *a, **k: torch.zeros(1, 2, 2, 2))
    with pytest.raises(AssertionError, match='expected'):
        check_env.check_roi_align('cpu')


# ------------------------------------------------------- setup_env.sh (stubbed)
STUB = '''#!{python}
"""A stand-in interpreter for setup_env.sh: pip records what it was asked,
mmcv_cuda.py is the real decision on the machine of FAKE_STATE."""
import json, os, sys
sys.path.insert(0, {misc!r})
from mmcv_cuda import CudaEnv, decide
path = os.environ['FAKE_STATE']
state = json.load(open(path))
args = sys.argv[1:]
with open(os.environ['FAKE_LOG'], 'a') as f:
    f.write(json.dumps(dict(args=args, FORCE_CUDA=os.environ.get('FORCE_CUDA'),
                            CUDA_HOME=os.environ.get('CUDA_HOME'),
                            CPATH=os.environ.get('CPATH'))) + '\\n')
if args[0] == '-c':
    if 'sys.executable' in args[1]:
        print(sys.argv[0])
    elif 'import mmcv.ops' in args[1] and not state['mmcv']:
        sys.exit(1)
    elif '__version__' in args[1]:
        print('2.1.0')
elif args[:2] == ['-m', 'pip']:
    if 'mmcv==2.1.0' in args:
        cuda = os.environ.get('FORCE_CUDA') == '1' and '--no-binary' in args
        state['mmcv'] = 'cuda' if cuda else 'cpu'
        json.dump(state, open(path, 'w'))
elif args[0].endswith('mmcv_cuda.py'):
    env = CudaEnv(torch_cuda='13.0', gpu_count=state['gpus'],
                  cuda_home='/opt/cuda' if state['nvcc'] else None,
                  nvcc_version='13.0' if state['nvcc'] else None,
                  mmcv_ops=bool(state['mmcv']),
                  mmcv_cuda=dict(cuda='13.0', cpu='not available').get(state['mmcv']),
                  request=os.environ.get('MMFSOD_CUDA', ''),
                  extra_includes=('/pip/cu13/include', ))
    action, reason = decide(env)
    print(reason, file=sys.stderr)
    if action == 'refuse':
        sys.exit(1)
    print('cuda /opt/cuda /pip/cu13/include' if action == 'cuda' else action)
elif args[0].endswith('check_env.py'):
    sys.exit(0 if state['mmcv'] else 1)
'''


@pytest.fixture
def stub_setup(tmp_path):
    """setup_env.sh in a copy of the repo's layout (its stamp is written
    there), run with a stub interpreter: ``run(state, **env)`` ->
    (CompletedProcess, pip calls that install mmcv, final state)."""
    root = tmp_path / 'repo'
    os.makedirs(root / 'tools' / 'misc')
    shutil.copy(osp.join(REPO, 'tools', 'misc', 'setup_env.sh'), root / 'tools' / 'misc')
    for name in ('requirements.txt', 'requirements-tests.txt', 'setup.cfg',
                 'tools/misc/mmcv_cuda.py', 'tools/misc/check_env.py'):
        open(root / name, 'w').close()
    stub = tmp_path / 'python'
    stub.write_text(STUB.format(python=sys.executable, misc=osp.join(REPO, 'tools', 'misc')))
    stub.chmod(0o755)

    def run(state, **env):
        (tmp_path / 'state.json').write_text(json.dumps(state))
        log = tmp_path / 'log.jsonl'
        log.write_text('')
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ('MMFSOD_CUDA', 'FORCE_CUDA', 'CUDA_HOME', 'VENV', 'CPATH')}
        full_env.update(MMFSOD_PYTHON=str(stub), FAKE_STATE=str(tmp_path / 'state.json'),
                        FAKE_LOG=str(log), **env)
        proc = subprocess.run(['bash', str(root / 'tools' / 'misc' / 'setup_env.sh')],
                              env=full_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        mmcv = [c for c in calls if c['args'][:2] == ['-m', 'pip'] and 'mmcv==2.1.0' in c['args']]
        return proc, mmcv, json.loads((tmp_path / 'state.json').read_text())
    return run


def test_setup_env_builds_cuda_ops_on_a_gpu_machine(stub_setup):
    # set up once on the CPU (the wheelhouse wheel: no --no-binary)
    proc, mmcv, state = stub_setup(dict(gpus=0, nvcc=True, mmcv=None))
    assert proc.returncode == 0, proc.stdout
    assert len(mmcv) == 1 and '--no-binary' not in mmcv[0]['args'] and state['mmcv'] == 'cpu'
    assert mmcv[0]['FORCE_CUDA'] == '0'
    proc, mmcv, _ = stub_setup(dict(gpus=0, nvcc=True, mmcv='cpu'))
    assert 'up to date' in proc.stdout and not mmcv
    # the same environment on a GPU machine: the stamp does not keep the CPU build
    proc, mmcv, state = stub_setup(dict(gpus=1, nvcc=True, mmcv='cpu'))
    assert proc.returncode == 0, proc.stdout
    assert 'up to date' not in proc.stdout and state['mmcv'] == 'cuda'
    assert len(mmcv) == 1
    for flag in ('--no-binary', '--no-cache-dir', '--no-build-isolation', '--force-reinstall'):
        assert flag in mmcv[0]['args']
    assert (mmcv[0]['FORCE_CUDA'], mmcv[0]['CUDA_HOME']) == ('1', '/opt/cuda')
    assert mmcv[0]['CPATH'] == '/pip/cu13/include'
    proc, mmcv, _ = stub_setup(dict(gpus=1, nvcc=True, mmcv='cuda'))
    assert 'up to date' in proc.stdout and not mmcv
    # a GPU-less build node asking for CUDA ops
    proc, mmcv, state = stub_setup(dict(gpus=0, nvcc=True, mmcv='cpu'), MMFSOD_CUDA='1')
    assert proc.returncode == 0 and state['mmcv'] == 'cuda', proc.stdout


def test_setup_env_refuses_without_nvcc(stub_setup):
    proc, mmcv, state = stub_setup(dict(gpus=1, nvcc=False, mmcv='cpu'))
    assert proc.returncode == 1 and not mmcv and state['mmcv'] == 'cpu'
    assert "nvcc not found: install the CUDA toolkit matching torch's CUDA 13.0" in proc.stdout
    assert "CUDA ops are needed here but cannot be built" in proc.stdout
