"""tools/train.py and tools/dist_train.sh on the tiny toy config."""
import glob
import os.path as osp
import re

import torch

from conftest import TINY_DET_CONFIG, run_tool


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
