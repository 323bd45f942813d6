"""TFA (issue 14): checkpoint surgery, the cosine classifier, fine-tuning of
the last layer only, the configs, and base -> surgery -> fine-tune -> test
through the tools."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import REPO, run_tool
from mmfsod.detection.models.utils import (SurgeryError, box_predictor_surgery,
                                           freeze_all_but)

CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
BASE = osp.join(CONFIGS, 'tfa_tiny_base-training.py')
FINE_TUNE = osp.join(CONFIGS, 'tfa_tiny_fine-tuning.py')
CLS, REG = 'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg'


def predictor_state(classes, feat=6, seed=0, bias=True):
    """A state dict with an mmdet box predictor for ``classes`` and one more
    weight; every value distinct."""
    g = torch.Generator().manual_seed(seed)
    n = len(classes)
    state = {'backbone.conv1.weight': torch.randn(4, 3, 3, 3, generator=g),
             f'{CLS}.weight': torch.randn(n + 1, feat, generator=g),
             f'{REG}.weight': torch.randn(4 * n, feat, generator=g)}
    if bias:
        state[f'{CLS}.bias'] = torch.randn(n + 1, generator=g)
        state[f'{REG}.bias'] = torch.randn(4 * n, generator=g)
    return state


BASE_CLASSES = ('a', 'b', 'c')
NOVEL_CLASSES = ('x', 'y')
ALL = ('x', 'c', 'a', 'y', 'b')  # interleaved: rows must move by name


# ------------------------------------------------------------------ surgery
def test_randinit_keeps_base_rows_bit_for_bit_and_draws_novel_rows():
    base = predictor_state(BASE_CLASSES)
    out = box_predictor_surgery('randinit', [(base, BASE_CLASSES, 'base.pth')], ALL, seed=3)
    assert torch.equal(out['backbone.conv1.weight'], base['backbone.conv1.weight'])
    assert out[f'{CLS}.weight'].shape == (len(ALL) + 1, 6)
    assert out[f'{CLS}.bias'].shape == (len(ALL) + 1, )
    assert out[f'{REG}.weight'].shape == (4 * len(ALL), 6)
    assert out[f'{REG}.bias'].shape == (4 * len(ALL), )
    for i, c in enumerate(ALL):
        if c in BASE_CLASSES:
            j = BASE_CLASSES.index(c)
            assert torch.equal(out[f'{CLS}.weight'][i], base[f'{CLS}.weight'][j])
            assert torch.equal(out[f'{CLS}.bias'][i], base[f'{CLS}.bias'][j])
            assert torch.equal(out[f'{REG}.weight'][4 * i:4 * i + 4],
                               base[f'{REG}.weight'][4 * j:4 * j + 4])
            assert torch.equal(out[f'{REG}.bias'][4 * i:4 * i + 4],
                               base[f'{REG}.bias'][4 * j:4 * j + 4])
        else:  # mmdet's init: N(0, 0.01) / N(0, 0.001), zero biases
            assert out[f'{CLS}.bias'][i] == 0 and not out[f'{REG}.bias'][4 * i:4 * i + 4].any()
            assert 0 < out[f'{CLS}.weight'][i].abs().max() < 0.1
            assert 0 < out[f'{REG}.weight'][4 * i:4 * i + 4].abs().max() < 0.01
    # the background row stays last
    assert torch.equal(out[f'{CLS}.weight'][-1], base[f'{CLS}.weight'][-1])
    assert torch.equal(out[f'{CLS}.bias'][-1], base[f'{CLS}.bias'][-1])
    # seeded
    again = box_predictor_surgery('randinit', [(base, BASE_CLASSES, 'base.pth')], ALL, seed=3)
    assert all(torch.equal(again[k], out[k]) for k in out)


def test_combine_equals_hand_assembled_tensors():
    base = predictor_state(BASE_CLASSES, seed=0)
    novel = predictor_state(NOVEL_CLASSES, seed=1)
    out = box_predictor_surgery('combine', [(base, BASE_CLASSES, 'base.pth'),
                                            (novel, NOVEL_CLASSES, 'novel.pth')], ALL)
    # ALL = x c a y b; base a b c; novel x y
    cls_w = torch.stack([novel[f'{CLS}.weight'][0], base[f'{CLS}.weight'][2],
                         base[f'{CLS}.weight'][0], novel[f'{CLS}.weight'][1],
                         base[f'{CLS}.weight'][1], base[f'{CLS}.weight'][3]])
    assert torch.equal(out[f'{CLS}.weight'], cls_w)
    cls_b = torch.stack([novel[f'{CLS}.bias'][0], base[f'{CLS}.bias'][2],
                         base[f'{CLS}.bias'][0], novel[f'{CLS}.bias'][1],
                         base[f'{CLS}.bias'][1], base[f'{CLS}.bias'][3]])
    assert torch.equal(out[f'{CLS}.bias'], cls_b)
    b, n = base[f'{REG}.weight'], novel[f'{REG}.weight']
    reg_w = torch.cat([n[0:4], b[8:12], b[0:4], n[4:8], b[4:8]])
    assert torch.equal(out[f'{REG}.weight'], reg_w)
    assert torch.equal(out['backbone.conv1.weight'], base['backbone.conv1.weight'])


def test_remove_drops_the_box_predictor_only():
    base = predictor_state(BASE_CLASSES)
    out = box_predictor_surgery('remove', [(base, BASE_CLASSES, 'base.pth')])
    assert set(out) == {'backbone.conv1.weight'}


def test_surgery_bad_input_names_what_does_not_match():
    base = predictor_state(BASE_CLASSES)
    with pytest.raises(SurgeryError, match=r'base.pth: roi_head.bbox_head.fc_cls.weight '
                       r'has 4 rows, but its 4 classes need 5'):
        box_predictor_surgery('randinit', [(base, ('a', 'b', 'c', 'd'), 'base.pth')], ALL)
    with pytest.raises(SurgeryError, match=r"unknown surgery method 'surgery'"):
        box_predictor_surgery('surgery', [(base, BASE_CLASSES, 'base.pth')], ALL)
    with pytest.raises(SurgeryError, match=r"target classes: classes named twice: \['a'\]"):
        box_predictor_surgery('randinit', [(base, BASE_CLASSES, 'base.pth')], ('a', 'x', 'a'))
    with pytest.raises(SurgeryError, match=r"base.pth classes: classes named twice: \['b'\]"):
        box_predictor_surgery('randinit', [(base, ('a', 'b', 'b'), 'base.pth')], ALL)
    novel = predictor_state(NOVEL_CLASSES)
    with pytest.raises(SurgeryError, match=r"classes \['z'\] are in none of"):
        box_predictor_surgery('combine', [(base, BASE_CLASSES, 'base.pth'),
                                          (novel, NOVEL_CLASSES, 'novel.pth')], ALL + ('z', ))


# --------------------------------------------------------- cosine classifier
def test_cosine_classifier_equals_its_formula():
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    import mmfsod.detection  # noqa: F401
    init_default_scope('mmdet')
    layer = MODELS.build(dict(type='CosineSimLinear', in_features=7, out_features=4,
                              scale=20.0))
    assert layer.bias is None
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    w = layer.weight.detach()
    want = torch.empty(5, 4)
    for i in range(5):
        for c in range(4):
            want[i, c] = 20.0 * (x[i] @ w[c]) / ((x[i].norm() + 1e-5) * (w[c].norm() + 1e-5))
    assert torch.allclose(layer(x), want, atol=1e-5)
    head = MODELS.build(dict(type='CosineSimBBoxHead', scale=10.0, in_channels=8,
                             fc_out_channels=16, roi_feat_size=2, num_classes=3))
    assert type(head.fc_cls).__name__ == 'CosineSimLinear' and head.fc_cls.scale == 10.0
    cls_score, bbox_pred = head(torch.randn(6, 8, 2, 2))
    assert cls_score.shape == (6, 4) and bbox_pred.shape == (6, 12)
    assert cls_score.abs().max() <= 10.0 + 1e-4  # |scale * cos| <= scale


# ------------------------------------------------------------- freezing
def test_freeze_all_but_names_unknown_modules():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    kept, frozen = freeze_all_but(net, ['1'])
    assert kept == ['1.weight', '1.bias'] and frozen == ['0.weight', '0.bias']
    assert not net[0].weight.requires_grad and net[1].weight.requires_grad
    with pytest.raises(ValueError, match=r"trainable names \['roi_head.fc'\] match no parameter"):
        freeze_all_but(net, ['roi_head.fc'])


def test_fine_tuning_updates_only_the_box_predictor(fsod_toy_root, monkeypatch):
    """A few optimizer steps of the toy TFA fine-tuning model: the box
    classifier and regressor change, every other parameter and buffer stays
    bit-identical (batch norm in eval mode)."""
    from mmengine.runner import Runner
    monkeypatch.setenv('MMFSOD_TEST_FSOD_ROOT', fsod_toy_root)
    cfg = Config.fromfile(FINE_TUNE)
    cfg.work_dir = '/tmp/unused'
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    assert set(model.trainable_names) == {f'{CLS}.weight', f'{REG}.weight', f'{REG}.bias'}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    model.train()
    loader = iter(runner.build_dataloader(cfg.train_dataloader))
    for _ in range(3):
        model.train_step(next(loader), optim)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {f'{CLS}.weight', f'{REG}.weight', f'{REG}.bias'}, changed


# ------------------------------------------------------------------ configs
@pytest.mark.parametrize('config', sorted(glob.glob(osp.join(REPO, 'configs', 'tfa', '*', '*.py'))
                                          + glob.glob(osp.join(REPO, 'configs', 'gcn_fsod', 'toy',
                                                               '*global-kernel*.py'))),
                         ids=osp.basename)
def test_every_tfa_config_builds(config):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    import mmfsod.detection  # noqa: F401
    cfg = Config.fromfile(config)
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    if 'tfa' not in config:
        assert model.rpn_head.rpn_type == 'global_kernel'
        return
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'ckpt_surgery', osp.join(REPO, 'tools', 'misc', 'ckpt_surgery.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    classes, num_classes = tool.config_classes(config)
    assert num_classes == len(classes) == model.roi_head.bbox_head.num_classes
    if 'fine-tuning' in config:
        assert type(model).__name__ == 'TFA'
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable and all(n.startswith((CLS, REG)) for n in trainable)
        want_cos = osp.basename(config).startswith('tfa-cos')
        assert (type(model.roi_head.bbox_head).__name__ == 'CosineSimBBoxHead') == want_cos
    else:
        assert type(model).__name__ == 'FasterRCNN'


# ------------------------------------------------------- through the tools
def test_base_surgery_fine_tune_test_through_the_tools(fsod_toy_root, tmp_path):
    env = {'MMFSOD_TEST_FSOD_ROOT': fsod_toy_root}
    base_dir, ft_dir = tmp_path / 'base', tmp_path / 'ft'
    res = run_tool(['tools/train.py', BASE, '--work-dir', str(base_dir)], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert 'coco/base/bbox_mAP' in res.stdout and 'coco/novel' not in res.stdout
    base_ckpt = str(base_dir / 'iter_3.pth')

    surgered = str(tmp_path / 'randinit.pth')
    res = run_tool(['tools/misc/ckpt_surgery.py', 'randinit', base_ckpt, '--config',
                    FINE_TUNE, '--out', surgered], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert f'-> {surgered} (12 classes)' in res.stdout
    ckpt = torch.load(surgered, weights_only=False)
    assert ckpt['meta']['dataset_meta']['classes'][:3] == ['red_circle', 'green_square',
                                                           'blue_triangle']
    assert ckpt['state_dict'][f'{CLS}.weight'].shape[0] == 13

    res = run_tool(['tools/train.py', FINE_TUNE, '--work-dir', str(ft_dir),
                    '--cfg-options', f'load_from={surgered}'], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    # the cosine classifier has no bias: the base model's is left out
    assert 'unexpected key in source state_dict: roi_head.bbox_head.fc_cls.bias' in res.stdout
    ft_ckpt = str(ft_dir / 'iter_3.pth')
    base_state = torch.load(base_ckpt, weights_only=False)['state_dict']
    ft_state = torch.load(ft_ckpt, weights_only=False)['state_dict']
    assert torch.equal(base_state['roi_head.bbox_head.shared_fcs.0.weight'],
                       ft_state['roi_head.bbox_head.shared_fcs.0.weight'])

    res = run_tool(['tools/test.py', FINE_TUNE, ft_ckpt, '--work-dir', str(ft_dir)], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    for group in ('novel', 'base', 'all'):
        assert f'coco/{group}/bbox_mAP_50' in res.stdout

    # the RPN's proposal recall per group (the first stage's ceiling)
    res = run_tool(['tools/analysis_tools/proposal_recall.py', FINE_TUNE, ft_ckpt,
                    '--num-proposals', '10', '300'], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    lines = [line for line in res.stdout.splitlines() if 'proposal recall' in line]
    assert [line.split(':')[0] for line in lines] == ['novel', 'base']
    for line in lines:  # recall can only grow with more proposals
        r10, r300 = (float(x.split()[-1]) for x in line.rsplit(': ', 1)[1].split(', '))
        assert 0 <= r10 <= r300 <= 1

    # bad input: the head does not match the classes the checkpoint records
    res = run_tool(['tools/misc/ckpt_surgery.py', 'combine', base_ckpt, surgered,
                    '--config', FINE_TUNE, '--out', str(tmp_path / 'c.pth')], env=env)
    assert res.returncode != 0 and 'classes in both' in res.stdout, res.stdout[-2000:]
    res = run_tool(['tools/misc/ckpt_surgery.py', 'randinit', base_ckpt, '--config',
                    FINE_TUNE, '--src-config', FINE_TUNE, '--out', str(tmp_path / 'r.pth')],
                   env=env)
    assert res.returncode != 0, res.stdout[-2000:]
    assert (f'{base_ckpt}: roi_head.bbox_head.fc_cls.weight has 10 rows, but its 12 '
            'classes need 13') in res.stdout
    assert not osp.exists(tmp_path / 'r.pth')
    res = run_tool(['tools/misc/ckpt_surgery.py', 'reset', base_ckpt, '--out', 'x.pth'])
    assert res.returncode == 2 and "invalid choice: 'reset'" in res.stdout
