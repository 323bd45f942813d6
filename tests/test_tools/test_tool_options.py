"""The command-line overrides shared by tools/train.py and tools/test.py."""
import pytest
import torch
from mmengine.config import Config

from conftest import TINY_DET_CONFIG
from mmfsod.utils.tools import (apply_amp, apply_resume, apply_show, load_config,
                                setup_work_dir)


def test_load_config_overrides_and_work_dir(tiny_toy_root):
    cfg = load_config(TINY_DET_CONFIG, {'train_cfg.max_iters': 7}, 'pytorch')
    assert cfg.train_cfg.max_iters == 7 and cfg.launcher == 'pytorch'
    assert cfg.train_dataloader.dataset.data_root == tiny_toy_root
    setup_work_dir(cfg, TINY_DET_CONFIG, None)
    assert cfg.work_dir.endswith('work_dirs/toy_det_tiny')
    setup_work_dir(cfg, TINY_DET_CONFIG, '/tmp/x')
    assert cfg.work_dir == '/tmp/x'


def test_load_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.py'):
        load_config(str(tmp_path / 'nope.py'))
    bad = tmp_path / 'no_scope.py'
    bad.write_text('model = dict(type="X")\n')
    with pytest.raises(KeyError, match='no_scope.py: default_scope'):
        load_config(str(bad))


def test_resume_options(tmp_path):
    cfg = Config(dict(resume=False, load_from='a.pth'))
    apply_resume(cfg, 'auto')
    assert cfg.resume is True and cfg.load_from is None
    ckpt = tmp_path / 'c.pth'
    ckpt.write_bytes(b'')
    apply_resume(cfg, str(ckpt))
    assert cfg.resume is True and cfg.load_from == str(ckpt)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        apply_resume(cfg, str(tmp_path / 'missing.pth'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU message')
def test_amp_on_cpu_is_a_clear_error():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD'))))
    with pytest.raises(RuntimeError, match='--amp needs a GPU'):
        apply_amp(cfg)


@pytest.mark.parametrize('scope, enabled_key, dir_key', [
    ('mmdet', 'draw', 'test_out_dir'), ('mmpretrain', 'enable', 'out_dir')])
def test_show_dir_per_scope(scope, enabled_key, dir_key):
    cfg = Config(dict(default_scope=scope, default_hooks=dict(visualization=dict())))
    apply_show(cfg, False, 'vis', 0.5)
    vis = cfg.default_hooks.visualization
    assert vis[enabled_key] is True and vis[dir_key] == 'vis' and vis.wait_time == 0.5


def test_print_config_builds_a_paper_model():
    from conftest import REPO, run_tool
    config = ('configs/gcn_fsod/coco/ablations/'
              'gcn-fsod_r50_c4_4xb2_coco_stacked-reg_10shot-fine-tuning.py')
    res = run_tool(['tools/misc/print_config.py', config, '--build-model'], cwd=REPO)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "reg_type='stacked'" in res.stdout
    assert 'built QuerySupportDetector (scope mmdet)' in res.stdout
