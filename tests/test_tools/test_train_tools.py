"""tools/train.py and tools/dist_train.sh on the tiny toy config."""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import threading
import time

import torch

from conftest import REPO, TINY_DET_CONFIG, run_tool


def test_train_two_iterations(tiny_toy_root, tmp_path):
    proc = run_tool(['tools/train.py', TINY_DET_CONFIG, '--work-dir', str(tmp_path)])
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:]
    losses = [float(v) for v in re.findall(r'Iter\(train\) \[\s*\d/2\].*? loss: ([\d.]+)', out)]
    assert len(losses) == 2 and all(v > 0 for v in losses), out[-3000:]
    assert osp.isfile(tmp_path / 'iter_2.pth')
    # the evaluation after the last iteration printed the COCO table
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    assert 'coco/bbox_mAP' in out


def test_train_bad_config_path(tmp_path):
    proc = run_tool(['tools/train.py', str(tmp_path / 'missing.py')])
    assert proc.returncode != 0
    assert 'missing.py' in proc.stdout and 'does not exist' in proc.stdout


def test_dist_train_two_cpu_processes(tiny_toy_root, tmp_path):
    proc = run_tool(['bash', 'tools/dist_train.sh', TINY_DET_CONFIG, '2',
                     '--work-dir', str(tmp_path), '--cfg-options',
                     'train_cfg.val_interval=1000'],
                    env={'PORT': '29731'})
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:]
    assert 'backend gloo, rank 0 of world size 2' in out, out[-4000:]
    assert 'backend gloo, rank 1 of world size 2' in out, out[-4000:]
    assert re.search(r'world_size: 2', out) or 'Distributed training: True' in out
    ckpt = osp.join(tmp_path, 'iter_2.pth')
    assert osp.isfile(ckpt), glob.glob(str(tmp_path / '*'))
    assert torch.load(ckpt, weights_only=False)['meta']['iter'] == 2

    # the same checkpoint evaluated by 2 CPU processes
    proc = run_tool(['bash', 'tools/dist_test.sh', TINY_DET_CONFIG, ckpt, '2',
                     '--work-dir', str(tmp_path / 'test')], env={'PORT': '29732'})
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:]
    assert 'rank 1 of world size 2' in out and 'Load checkpoint from' in out
    assert 'coco/bbox_mAP' in out, out[-4000:]


def test_dist_train_ranks_stay_identical_and_match_one_process(tiny_toy_root, tmp_path):
    """2 CPU ranks (gloo) of batch 1 end with bit-identical parameters, equal
    to float tolerance to one process that averages the same 2 images'
    gradients (accumulative_counts=2, twice the iterations): the ranks
    synchronise their gradients (without it each would follow its own
    images) and see disjoint halves of one stream."""
    config = osp.join(REPO, 'tests', 'data', 'configs', 'toy_det_tiny_ddp.py')
    env = {'PYTHONPATH': os.pathsep.join([REPO, osp.join(REPO, 'tests', 'data')])}
    proc = run_tool(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
                     str(tmp_path / 'ddp')], env=dict(env, PORT='29741'))
    assert proc.returncode == 0, proc.stdout[-4000:]
    proc = run_tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'one'),
                     '--cfg-options', 'train_cfg.max_iters=4',
                     'optim_wrapper.accumulative_counts=2'], env=env)
    assert proc.returncode == 0, proc.stdout[-4000:]
    ranks = [torch.load(tmp_path / 'ddp' / f'params_rank{r}.pth') for r in (0, 1)]
    one = torch.load(tmp_path / 'one' / 'params_rank0.pth')
    init = torch.load(tmp_path / 'ddp' / 'params_rank0_init.pth')
    assert ranks[0].keys() == ranks[1].keys() == one.keys() == init.keys()
    for k in ranks[0]:
        assert torch.equal(ranks[0][k], ranks[1][k]), k
    for k in init:  # the same initial model in both runs
        assert torch.equal(init[k], torch.load(tmp_path / 'one' / 'params_rank0_init.pth')[k])
    moved = max((ranks[0][k] - init[k]).abs().max().item() for k in init)
    diff = max((ranks[0][k] - one[k]).abs().max().item() for k in one)
    print(f'2 ranks vs 1 process: max |w_ddp - w_one| = {diff:.3g}, moved {moved:.3g}')
    assert moved > 1e-4  # the runs trained
    assert diff < 1e-5 and diff < moved / 100


def test_dist_rank_killed_ends_the_job(tiny_toy_root, tmp_path):
    """Issue 16: rank 1 of a 2-process CPU run (one dataloader worker each) is killed
    while training: the job ends within 60 s naming rank 1, and no process
    of it is left."""
    args = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), TINY_DET_CONFIG, '2', '--work-dir',
            str(tmp_path), '--cfg-options', 'train_cfg.max_iters=100000',
            'train_dataloader.num_workers=1', 'train_cfg.val_interval=100000']
    env = dict(os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED='1', PORT='29763')
    proc = subprocess.Popen(args, cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    lines, started = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if 'Iter(train)' in line:
                started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert started.wait(180), ''.join(lines)[-3000:]
        ranks = {}
        for pid in _descendants(proc.pid):
            rank = _env_of(pid).get('RANK')
            if rank is not None and 'train.py' in _cmdline(pid):
                ranks.setdefault(rank, []).append(pid)
        assert set(ranks) == {'0', '1'}, ranks
        group = _descendants(proc.pid)
        os.kill(min(ranks['1']), signal.SIGKILL)  # the rank's main process
        proc.wait(60)  # raises TimeoutExpired if the job hangs
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(10)
    out = ''.join(lines)
    assert proc.returncode != 0
    assert 'rank      : 1 (local_rank: 1)' in out and 'SIGKILL' in out, out[-3000:]
    time.sleep(6)  # dataloader workers notice their parent is gone within 5 s
    left = [pid for pid in group if osp.exists(f'/proc/{pid}') and
            _state(pid) != 'Z']
    assert not left, [(_cmdline(p)) for p in left]


def _descendants(pid):
    out = subprocess.run(['ps', '-eo', 'pid=,ppid='], stdout=subprocess.PIPE,
                         text=True).stdout.split()
    children = {}
    for child, parent in zip(out[::2], out[1::2]):
        children.setdefault(int(parent), []).append(int(child))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _env_of(pid):
    try:
        with open(f'/proc/{pid}/environ', 'rb') as f:
            items = f.read().split(b'\0')
    except OSError:
        return {}
    return dict(i.decode(errors='replace').split('=', 1) for i in items if b'=' in i)


def _cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''


def _state(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return 'gone'
