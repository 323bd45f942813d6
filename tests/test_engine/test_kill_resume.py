"""Training killed with SIGKILL -- at a random moment while it steps, and
in the middle of a checkpoint write -- then resumed with ``--resume`` ends
bit-identical to the uninterrupted run, and no kill ever leaves a partial
file under a final name. The tiny AnchorNet config (3 epochs of 3
iterations, a checkpoint every epoch), two seeds, each killed twice.
(A 2-process run whose rank is killed: tests/test_tools/test_train_tools.py.)"""
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from conftest import REPO
from mmfsod.compat import MMENGINE_CHECKPOINT_GLOBALS, checkpoint_problem
from mmfsod.utils.toy_clutter import generate_toy_clutter

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'anchornet_tiny.py')
DRIVER = osp.join(REPO, 'tests', 'test_engine', 'kill_driver.py')
CLUTTER = dict(num_train=12, num_val=6, num_classes=6, img_size=128, seed=0)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clutter') / 'toy_clutter') + '/'
    generate_toy_clutter(root, **CLUTTER)
    return dict(os.environ, MMFSOD_TEST_CLUTTER_ROOT=root, PYTHONUNBUFFERED='1',
                OMP_NUM_THREADS='1', PYTHON=sys.executable)


def start(args, env):
    return subprocess.Popen([sys.executable] + args, cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def train_args(work_dir, resume=False):
    return [osp.join(REPO, 'tools', 'train.py'), CONFIG, '--work-dir', str(work_dir)] + (
        ['--resume'] if resume else [])


def final_weights(work_dir):
    return torch.load(osp.join(work_dir, 'epoch_3.pth'), weights_only=False)['state_dict']


@pytest.fixture(scope='module')
def reference(env, tmp_path_factory):
    """The uninterrupted run, in this process with the tool's settings
    (one thread, as the subprocesses)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    work_dir = tmp_path_factory.mktemp('reference')
    threads = torch.get_num_threads()
    old = os.environ.get('MMFSOD_TEST_CLUTTER_ROOT')
    os.environ['MMFSOD_TEST_CLUTTER_ROOT'] = env['MMFSOD_TEST_CLUTTER_ROOT']
    torch.set_num_threads(1)
    try:
        cfg = Config.fromfile(CONFIG)
        cfg.work_dir = str(work_dir)
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
        if old is None:
            os.environ.pop('MMFSOD_TEST_CLUTTER_ROOT')
        else:
            os.environ['MMFSOD_TEST_CLUTTER_ROOT'] = old
    return final_weights(work_dir)


def check_no_partial_file(work_dir):
    """Every file under a final name is whole; return the temporary files."""
    names = os.listdir(work_dir)
    for name in names:
        if name.endswith('.pth'):
            path = osp.join(work_dir, name)
            assert checkpoint_problem(path) is None, (name, checkpoint_problem(path))
            with torch.serialization.safe_globals(MMENGINE_CHECKPOINT_GLOBALS):
                torch.load(path, weights_only=True)  # loads as resume would
    if 'last_checkpoint' in names:
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            named = f.read()
        assert named.endswith('.pth') and osp.isfile(named), named
    return [n for n in names if '.tmp-' in n]


def kill_at_random_moment(args, env, rng):
    """Start ``args``; once the first training iteration is logged, SIGKILL
    it after a delay drawn from ``rng`` (if it has not ended by then)."""
    proc = start(args, env)
    started, lines = threading.Event(), []

    def read():
        for line in proc.stdout:
            lines.append(line)
            if 'Epoch(train)' in line:
                started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), ''.join(lines)[-3000:]
    time.sleep(rng.uniform(0.0, 1.0))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    reader.join(10)
    return proc.returncode, ''.join(lines)


@pytest.mark.parametrize('seed', [0, 1])
def test_killed_runs_resume_bit_exact(env, reference, tmp_path, seed):
    rng = random.Random(seed)
    work_dir = tmp_path / 'run'
    # 1) killed at a random moment while it trains (or saves)
    code, out = kill_at_random_moment(train_args(work_dir), env, rng)
    assert code in (0, -signal.SIGKILL), out[-3000:]
    check_no_partial_file(work_dir)
    # 2) resumed, and killed half-way through writing a later checkpoint
    done = sum(n.startswith('epoch_') for n in os.listdir(work_dir))
    if done < 3:
        nth, fraction = rng.randint(1, 3 - done), rng.choice([0.0, rng.random(), 1.0])
        proc = start([DRIVER, str(nth), str(fraction)] + train_args(work_dir, True)[1:], env)
        out = proc.communicate(timeout=300)[0]
        assert proc.returncode == -signal.SIGKILL, out[-3000:]
        assert 'kill_driver: SIGKILL while writing' in out
        temps = check_no_partial_file(work_dir)
        assert temps, os.listdir(work_dir)  # the write was cut: its temp file stays
    # 3) resumed to the end
    proc = start(train_args(work_dir, resume=True), env)
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out[-3000:]
    assert not check_no_partial_file(work_dir)  # stale temp files were removed
    weights = final_weights(work_dir)
    diff = max((weights[k].double() - reference[k].double()).abs().max().item()
               for k in reference if reference[k].numel())
    assert diff == 0, diff
