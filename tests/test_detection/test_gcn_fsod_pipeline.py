"""The few-shot pipeline through the tools, shrunk: base training ->
K-shot fine-tuning from its checkpoint -> test with the recorded templates
(novel / base table, true / false positive pictures), and the base model
tested with the fine-tuning templates (the "before fine-tuning" figure)."""
import glob
import json
import os.path as osp

import pytest
import torch

from conftest import REPO, run_tool

CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
BASE = osp.join(CONFIGS, 'gcn_fsod_tiny_base-training.py')
FINE_TUNE = osp.join(CONFIGS, 'gcn_fsod_tiny_fine-tuning.py')


@pytest.fixture
def fsod_env(fsod_toy_root):
    return {'MMFSOD_TEST_FSOD_ROOT': fsod_toy_root}


def test_base_training_fine_tuning_test(fsod_env, tmp_path):
    base_dir, ft_dir = tmp_path / 'base', tmp_path / 'ft'
    res = run_tool(['tools/train.py', BASE, '--work-dir', str(base_dir)], env=fsod_env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert 'coco/base/bbox_mAP' in res.stdout and 'coco/novel' not in res.stdout
    base_ckpt = str(base_dir / 'iter_3.pth')
    base_templates = torch.load(base_ckpt, weights_only=False)['meta']['support_templates']
    assert len(base_templates['templates']) == 9  # the toy base classes
    assert all(len(v) == 2 for v in base_templates['templates'].values())

    res = run_tool(['tools/train.py', FINE_TUNE, '--work-dir', str(ft_dir),
                    '--cfg-options', f'load_from={base_ckpt}'], env=fsod_env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert 'Load checkpoint from' in res.stdout
    ft_ckpt = str(ft_dir / 'iter_3.pth')
    templates = torch.load(ft_ckpt, weights_only=False)['meta']['support_templates']
    # the fine-tuning templates are the 2-shot set of all 12 classes
    assert len(templates['templates']) == 12 and templates['num_shots'] is None
    assert all(1 <= len(v) <= 2 for v in templates['templates'].values())
    with open(ft_dir / 'support_templates.json') as f:
        assert json.load(f) == templates

    res = run_tool(['tools/test.py', FINE_TUNE, ft_ckpt, '--work-dir', str(ft_dir)],
                   env=fsod_env)
    out = res.stdout
    assert res.returncode == 0, out[-4000:]
    assert 'support templates from the checkpoint' in out
    for group in ('novel', 'base', 'all'):
        assert f'coco/{group}/bbox_mAP_50' in out and f'coco/{group}/bbox_AR@100' in out
    pictures = glob.glob(str(ft_dir / '*' / 'tp_fp' / '*.jpg'))
    assert len(pictures) == 6, pictures  # every val image (6 < num_images=8)

    # the losses of both checkpoints on the novel classes' training pairs
    res = run_tool(['tools/analysis_tools/pair_loss.py', FINE_TUNE, base_ckpt, ft_ckpt,
                    '--num-items', '2'], env=fsod_env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert "2 training pairs whose positive class is one of ['blue_triangle'" in res.stdout
    rows = [line for line in res.stdout.splitlines() if 'iter_3.pth |' in line]
    assert len(rows) == 2 and all('loss_rpn_cls' not in r for r in rows)

    # before fine-tuning: the base model with the fine-tuning templates
    res = run_tool(['tools/test.py', FINE_TUNE, base_ckpt, '--work-dir',
                    str(tmp_path / 'before'), '--cfg-options',
                    f'custom_hooks.0.templates_file={ft_dir}/support_templates.json'],
                   env=fsod_env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert f'support templates from {ft_dir}/support_templates.json' in res.stdout
    assert 'coco/novel/bbox_mAP' in res.stdout
