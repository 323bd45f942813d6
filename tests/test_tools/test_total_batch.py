"""The paper's total batch on any number of processes (mmfsod/utils/total_batch.py,
tools/train.py, tools/misc/batch_table.py) and the paper configs' input
settings (workers, pinned memory, cuDNN benchmark)."""
import copy
import glob
import importlib.util
import os.path as osp
import types

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from mmfsod.utils.total_batch import (apply_total_batch, config_plan, plan_batch,
                                      world_size_from_env)

from conftest import REPO, TINY_DET_CONFIG, run_tool


def _batch_table():
    spec = importlib.util.spec_from_file_location(
        'batch_table', osp.join(REPO, 'tools', 'misc', 'batch_table.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GCN = 'configs/gcn_fsod/coco/'
ABLATIONS = ('cg-only', 'cl-only', 'global-kernel', 'lcrpn-coupled', 'stacked-reg')
TFA = 'configs/tfa/coco/'
DOWN = 'configs/anchornet/imagenet/downstream/'
# The paper's (or, where the paper gives none, the config's cited) total
# batch, lr, schedule and the config's batch per GPU.
GCN_BASE = (8, 0.002, ('iters', 120000), 2)      # GCN-FSOD sec. 4.1: 4 GPUs x 2
GCN_10SHOT = (8, 0.001, ('iters', 2000), 2)
GCN_30SHOT = (8, 0.001, ('iters', 3000), 2)
EXPECTED = {
    GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py': GCN_BASE,
    GCN + 'gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py': GCN_10SHOT,
    GCN + 'gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning_20way-novel-test.py': GCN_10SHOT,
    GCN + 'gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning.py': GCN_30SHOT,
    GCN + 'gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning_20way-novel-test.py': GCN_30SHOT,
    # TFA's yaml files: batch 16 (8 GPUs x 2)
    TFA + 'tfa_r101_fpn_8xb2_coco_base-training.py': (16, 0.02, ('iters', 110000), 2),
    TFA + 'tfa_r101_fpn_8xb2_coco_10shot-novel-fine-tuning.py': (16, 0.01, ('iters', 2000), 2),
    TFA + 'tfa_r101_fpn_8xb2_coco_30shot-novel-fine-tuning.py': (16, 0.01, ('iters', 6000), 2),
    TFA + 'tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py': (16, 0.001, ('iters', 160000), 2),
    TFA + 'tfa-cos_r101_fpn_8xb2_coco_10shot-fine-tuning.py': (16, 0.001, ('iters', 160000), 2),
    TFA + 'tfa-cos_r101_fpn_8xb2_coco_30shot-fine-tuning.py': (16, 0.001, ('iters', 240000), 2),
    # AnchorNet sec. 4.1: batch 256, lr 0.1, 100 epochs; patch fine-tuning:
    # ours (schedule_patch-ft_in1k.py), 256 / 0.01 / 5 epochs
    'configs/anchornet/imagenet/anchornet_8xb32_in1k.py': (256, 0.1, ('epochs', 100), 32),
}
EXPECTED.update({GCN + f'ablations/gcn-fsod_r50_c4_4xb2_coco_{a}_base-training.py': GCN_BASE
                 for a in ABLATIONS})
EXPECTED.update({GCN + f'ablations/gcn-fsod_r50_c4_4xb2_coco_{a}_10shot-fine-tuning.py':
                 GCN_10SHOT for a in ABLATIONS})
EXPECTED.update({DOWN + f'{net}_anchornet-lsp-ft_8xb32_in1k.py': (256, 0.01, ('epochs', 5), 32)
                 for net in ('resnet50', 'densenet169', 'resnext50-32x4d')})

_CONFIGS = {}


def load(path):
    if path not in _CONFIGS:
        _CONFIGS[path] = Config.fromfile(osp.join(REPO, path))
    return copy.deepcopy(_CONFIGS[path])


def run_plan(path, world, scale_lr):
    """(batch per GPU, total, lr, schedule) of ``path`` on ``world`` processes."""
    cfg = load(path)
    cfg.auto_scale_lr.enable = scale_lr
    plan = config_plan(cfg, path, world)
    note = apply_total_batch(cfg, path, world)
    loop = cfg.train_cfg
    schedule = ('iters', loop.max_iters) if loop.get('max_iters') else \
        ('epochs', loop.max_epochs)
    assert cfg.train_dataloader.batch_size == plan.per_gpu
    assert f'total batch {plan.total} = {world} process' in note
    return plan.per_gpu, plan.total, cfg.optim_wrapper.optimizer.lr * plan.lr_factor, \
        schedule, note


def test_every_paper_config_has_its_expectation():
    assert _batch_table().paper_configs() == sorted(EXPECTED)


@pytest.mark.parametrize('world', [1, 4, 8])
@pytest.mark.parametrize('path', sorted(EXPECTED))
def test_paper_total_batch_kept(path, world):
    total, lr, schedule, per_gpu = EXPECTED[path]
    cfg = load(path)
    assert cfg.auto_scale_lr.base_batch_size == total and cfg.auto_scale_lr.keep_total_batch
    assert not cfg.auto_scale_lr.get('enable', False)
    assert cfg.train_dataloader.batch_size == per_gpu  # the name's "4xb2" / "8xb32"
    got = run_plan(path, world, scale_lr=False)
    assert got[:4] == (total // world, total, pytest.approx(lr), schedule)
    assert "(kept: the config's total batch)" in got[4]
    # --auto-scale-lr: the config's batch per GPU, lr x N x b / total
    got = run_plan(path, world, scale_lr=True)
    assert got[:4] == (per_gpu, world * per_gpu, pytest.approx(lr * world * per_gpu / total),
                       schedule)


def test_auto_scale_lr_matches_mmengine():
    """The lr the plan predicts with --auto-scale-lr is the one mmengine's
    Runner.scale_lr sets (4 processes x 2 against the total batch 8 of the
    30-shot config, and 1 x 2)."""
    path = GCN + 'gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning.py'
    for world in (1, 4, 8):
        cfg = load(path)
        cfg.auto_scale_lr.enable = True
        apply_total_batch(cfg, path, world)
        optim = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))],
                                             lr=cfg.optim_wrapper.optimizer.lr))
        fake = types.SimpleNamespace(
            _train_dataloader=cfg.train_dataloader, world_size=world,
            logger=types.SimpleNamespace(info=lambda msg: None), param_schedulers=None)
        Runner.scale_lr(fake, optim, cfg.auto_scale_lr)
        assert optim.param_groups[0]['lr'] == pytest.approx(run_plan(path, world, True)[2])
        assert optim.param_groups[0]['lr'] == pytest.approx(0.001 * world * 2 / 8)


def test_three_gpus_for_a_total_of_eight_is_one_clear_error():
    path = GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py'
    with pytest.raises(ValueError) as info:
        apply_total_batch(load(path), path, 3)
    msg = str(info.value)
    assert '\n' not in msg and msg.startswith(path)
    assert 'total batch 8' in msg and 'among 3 processes' in msg
    assert 'use 1, 2, 4 or 8 processes' in msg and '--auto-scale-lr' in msg
    # with --auto-scale-lr 3 x 2 runs, lr x 6/8
    cfg = load(path)
    cfg.auto_scale_lr.enable = True
    note = apply_total_batch(cfg, path, 3)
    assert cfg.train_dataloader.batch_size == 2
    assert note == ("total batch 6 = 3 processes x 2 (--auto-scale-lr: the config's 2 per "
                    'process); lr 0.002 x 6/8 = 0.0015; 120000 iterations')


def test_plan_batch_rules():
    # kept; the README's example line
    assert plan_batch(8, 2, 4, scale_lr=False, keep_total=True) == (2, 8, 1.0, 'kept')
    cfg = load(GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py')
    assert apply_total_batch(cfg, 'x', 4) == (
        "total batch 8 = 4 processes x 2 (kept: the config's total batch); lr 0.002; "
        '120000 iterations')
    # gradient accumulation counts in the total: 2 processes x 2 x 2 = 8
    assert plan_batch(8, 2, 2, False, True, accumulate=2) == (2, 8, 1.0, 'kept')
    with pytest.raises(ValueError, match=r'among 4 processes x 4 accumulated; use 1 or 2'):
        plan_batch(8, 2, 4, False, True, accumulate=4)
    with pytest.raises(ValueError, match='among 16 processes'):
        plan_batch(8, 2, 16, False, True)
    # without keep_total_batch: the config's batch per process (toy, tests)
    assert plan_batch(8, 2, 2, False, False) == (2, 4, 1.0, 'config')
    assert plan_batch(None, 2, 2, False, False) == (2, 4, 1.0, 'config')
    assert plan_batch(4, 2, 2, True, False) == (2, 4, 1.0, 'scaled')
    with pytest.raises(ValueError, match='base_batch_size .* needed by --auto-scale-lr'):
        plan_batch(None, 2, 2, True, False, where='my.py')
    with pytest.raises(ValueError, match='my.py: world size must be a positive int'):
        plan_batch(8, 2, 0, False, True, where='my.py')


def test_batch_per_gpu_from_the_command_line_wins():
    """``--cfg-options train_dataloader.batch_size=B`` is the user's choice:
    kept on N processes (total N x B, the config's lr), and the log says
    that the config's total batch is not kept; --auto-scale-lr scales the lr
    from there."""
    cfg = load(GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py')
    cfg.train_dataloader.batch_size = 3
    note = apply_total_batch(cfg, 'c.py', world=4,
                             cfg_options={'train_dataloader.batch_size': 3})
    assert cfg.train_dataloader.batch_size == 3
    assert note.startswith('total batch 12 = 4 processes x 3 (train_dataloader.batch_size '
                           "from the command line; the config's total batch 8 is not kept")
    assert 'lr 0.002;' in note
    cfg = load(GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py')
    cfg.train_dataloader.batch_size = 3
    cfg.auto_scale_lr.enable = True
    plan = config_plan(cfg, 'c.py', 4, per_gpu_given=True)
    assert (plan.per_gpu, plan.total, plan.lr_factor, plan.mode) == (3, 12, 12 / 8, 'scaled')
    # another override leaves the kept total alone
    cfg = load(GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py')
    apply_total_batch(cfg, 'c.py', world=4, cfg_options={'train_cfg.max_iters': 10})
    assert cfg.train_dataloader.batch_size == 2


def test_toy_and_test_configs_keep_their_batch():
    """The toy configs inherit the paper schedules' base_batch_size, but not
    keep_total_batch: their batch per process is unchanged on 2 processes."""
    for path in ('configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py',
                 'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_10shot-fine-tuning.py',
                 'configs/gcn_fsod/custom/gcn-fsod_r18_c4_custom_base-training.py',
                 'configs/tfa/toy/tfa_r18_fpn_toy_base-training.py',
                 'configs/anchornet/toy/anchornet_toy-clutter.py',
                 'tests/data/configs/toy_det_tiny.py',
                 'tests/data/configs/gcn_fsod_tiny_base-training.py'):
        cfg = Config.fromfile(osp.join(REPO, path))
        assert not cfg.get('auto_scale_lr', {}).get('keep_total_batch', False), path
        batch = cfg.train_dataloader.batch_size
        note = apply_total_batch(cfg, path, 2)
        assert cfg.train_dataloader.batch_size == batch, path
        assert f"= 2 processes x {batch} (the config's batch per process)" in note


def test_world_size_from_the_launcher(monkeypatch):
    for key in ('WORLD_SIZE', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
        monkeypatch.delenv(key, raising=False)
    assert world_size_from_env('none') == 1
    with pytest.raises(RuntimeError, match='--launcher pytorch: none of WORLD_SIZE'):
        world_size_from_env('pytorch')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    assert world_size_from_env('slurm') == 8
    monkeypatch.setenv('WORLD_SIZE', '4')
    assert world_size_from_env('pytorch') == 4


def test_train_py_stops_on_three_processes_for_a_total_of_eight(tmp_path):
    """tools/train.py reads the world size from the launcher's environment
    and stops before any process group or dataloader is made."""
    config = GCN + 'gcn-fsod_r50_c4_4xb2_coco_base-training.py'
    proc = run_tool(['tools/train.py', config, '--launcher', 'pytorch',
                     '--work-dir', str(tmp_path)],
                    env={'WORLD_SIZE': '3', 'RANK': '0', 'LOCAL_RANK': '0'})
    assert proc.returncode != 0
    assert (f'{config}: the total batch 8 (auto_scale_lr.base_batch_size) does not divide '
            'among 3 processes; use 1, 2, 4 or 8 processes') in proc.stdout, proc.stdout[-2000:]


def test_dist_train_keeps_the_total_batch(tiny_toy_root, tmp_path):
    """2 CPU processes of a config that keeps a total batch of 2: 1 image per
    process; rank 0 logs the plan once."""
    proc = run_tool(['bash', 'tools/dist_train.sh', TINY_DET_CONFIG, '2',
                     '--work-dir', str(tmp_path), '--cfg-options',
                     'auto_scale_lr.base_batch_size=2', 'auto_scale_lr.keep_total_batch=True',
                     'train_cfg.max_iters=1', 'train_cfg.val_interval=1000'],
                    env={'PORT': '29757'})
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:]
    line = "total batch 2 = 2 processes x 1 (kept: the config's total batch); lr 0.02; " \
        '1 iterations'
    assert out.count(line) == 1, out[-4000:]


# ---- input settings of the paper configs (issue 20, item 7) ----

def _loaders(cfg):
    return {k: cfg[k] for k in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                                'calibration_dataloader') if cfg.get(k)}


PAPER_INPUT = sorted(EXPECTED) + [
    p[len(REPO) + 1:] for p in sorted(glob.glob(osp.join(REPO, DOWN, '*_in1k.py')))
    if '-ft_' not in p] + ['configs/anchornet/imagenet/anchornet_8xb32_in1k_lsp-downstream.py']


@pytest.mark.parametrize('path', PAPER_INPUT)
def test_paper_configs_keep_a_gpu_busy(path):
    cfg = load(path)
    for name, loader in _loaders(cfg).items():
        assert loader.get('pin_memory') is True, (path, name)
        assert loader.get('persistent_workers') is True, (path, name)
        queries_supports = loader.dataset.get('type') == 'QuerySupportDataset'
        assert loader.num_workers >= (8 if queries_supports else 4), (path, name)
    # cuDNN benchmark where the input shapes are fixed: ImageNet 224 crops and
    # the patch batches of fine-tuning; not the COCO detectors (any image
    # size) nor the patch test (varying patch counts)
    fixed = path.startswith('configs/anchornet/imagenet/anchornet_8xb32') or '-ft_' in path
    assert cfg.env_cfg.cudnn_benchmark is fixed, path


@pytest.mark.parametrize('path', sorted(
    glob.glob(osp.join(REPO, 'configs/*/toy/**/*.py'), recursive=True) +
    glob.glob(osp.join(REPO, 'configs/gcn_fsod/custom/gcn-fsod*.py')) +
    glob.glob(osp.join(REPO, 'configs/faster_rcnn/*.py'))))
def test_toy_configs_keep_small_inputs(path):
    cfg = Config.fromfile(path)
    for name, loader in _loaders(cfg).items():
        assert loader.get('num_workers', 0) <= 2 and not loader.get('pin_memory'), (path, name)
    assert not cfg.env_cfg.cudnn_benchmark, path


def test_runner_passes_pin_memory_to_the_dataloader():
    loader = Runner.build_dataloader(dict(
        batch_size=2, num_workers=0, pin_memory=True, dataset=list(range(4)),
        sampler=dict(type='DefaultSampler', shuffle=False)))
    assert loader.pin_memory is True and loader.batch_size == 2
