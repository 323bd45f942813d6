"""AnchorNet backbone (geometry read off the modules), head (eqs. 1-5, losses,
decision), training on a tiny synthetic batch, and the configs."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmfsod.classification import lsp
from mmfsod.classification.models import (ANCHORNET_ARCH, AnchorNet, AnchorNetHead,
                                          UnpaddedInvertedResidual, attention_maps,
                                          spatial_layer_specs)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
NAMES = ('B63', 'B95', 'B111')


@pytest.fixture(scope='module')
def full_backbone():
    torch.manual_seed(0)
    return AnchorNet().eval()


def tiny_model(num_classes=4, **head_kw):
    """The paper's layout (same kernels and strides, so the same geometry)
    at a quarter of the width, for speed."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='AnchorNet', widen_factor=0.25),
        neck=None,
        head=dict(type='AnchorNetHead', num_classes=num_classes, in_channels=24,
                  **head_kw)))
    model.init_weights()
    return model


# ---------------------------------------------------------------- geometry
def test_geometry_224_from_modules(full_backbone):
    bb = full_backbone
    assert bb.branch_names == NAMES
    # Per-row RFs of Tables 1 and 2, accumulated from the built modules.
    head_rfs = [lsp.receptive_field(spatial_layer_specs(bb.head_layers[:i + 1])).rf
                for i in range(len(bb.head_layers))]
    assert head_rfs == [3, 7, 15, 15, 15, 15, 15, 15, 31, 47]
    for name, rfs in (('B63', [63, 63]), ('B95', [63, 95]), ('B111', [79, 111])):
        head = spatial_layer_specs(bb.head_layers)
        got = [lsp.receptive_field(head + spatial_layer_specs(bb.branches[name][:i + 1])
                                   ).rf for i in range(2)]
        assert got == rfs
    assert lsp.output_size(224, spatial_layer_specs(bb.head_layers)) == 23
    assert all(p == 0 for _, _, p, _ in bb.layer_specs('B111'))
    geo = bb.geometry(224)
    expected = {'B63': (21, 63), 'B95': (17, 95), 'B111': (15, 111)}
    for name, (side, rf) in expected.items():
        g = geo[name]
        assert (g.map_size, g.rf, g.stride, g.offset) == ((side, side), rf, 8, 0)
        assert g.boxes[0].tolist() == [0, 0, rf, rf]
        assert g.boxes[side + 2].tolist() == [16, 8, 16 + rf, 8 + rf]  # (1, 2)
        assert g.boxes[-1].tolist() == [8 * (side - 1)] * 2 + [8 * (side - 1) + rf] * 2
    assert {n: r.rf for n, r in bb.receptive_fields().items()} == \
        {n: v[1] for n, v in expected.items()}


def test_forward_shapes_match_geometry(full_backbone):
    assert full_backbone.out_channels == {n: (96, 96) for n in NAMES}
    # same kernels and strides at a quarter of the width: same geometry
    bb = tiny_model().backbone.eval()
    assert {n: lsp.receptive_field(bb.layer_specs(n)) for n in NAMES} == \
        full_backbone.receptive_fields()
    with torch.no_grad():
        head_out = bb.head_layers(torch.randn(1, 3, 224, 224))
        assert tuple(head_out.shape) == (1, 24, 23, 23)
        for size in ((224, 224), (120, 150)):
            outs = bb(torch.randn(1, 3, *size))
            geo = full_backbone.geometry(size)
            for name, (feat, att) in zip(NAMES, outs):
                assert tuple(feat.shape) == (1, 24, *geo[name].map_size)
                assert att.shape == feat.shape


def test_geometry_follows_the_modules():
    arch = {'head': ANCHORNET_ARCH['head'],
            'branches': {'B79': dict(layers=[('bneck', 5, 64, 96, False, 'ReLU', 1)],
                                     attention=[])}}
    bb = AnchorNet(arch=arch)
    g = bb.geometry(224)['B79']
    assert (g.rf, g.map_size) == (79, (19, 19))
    assert tuple(bb(torch.randn(1, 3, 100, 100))[0][0].shape[-2:]) == (3, 3)


def test_backbone_errors(full_backbone):
    with pytest.raises(ValueError, match=r"100x100.*111x111.*'B111'"):
        full_backbone(torch.randn(1, 3, 100, 100))
    with pytest.raises(ValueError, match=r"'B95': input 90x224"):
        full_backbone.geometry((90, 224))
    with pytest.raises(KeyError, match="unknown branch 'B64'"):
        full_backbone.layer_specs('B64')
    with pytest.raises(ValueError, match='unknown arch'):
        AnchorNet(arch='anchornet_xl')
    bad = {'head': ANCHORNET_ARCH['head'],
           'branches': {'B63': dict(layers=[], attention=[('bneck', 3, 96, 96, False,
                                                           'ReLU', 1)])}}
    with pytest.raises(ValueError, match="'B63' attention layers must keep"):
        AnchorNet(arch=bad)
    with pytest.raises(ValueError, match="unknown operator 'pool'"):
        AnchorNet(arch={'head': [ANCHORNET_ARCH['head'][0], ('pool', 2, 0, 16, 0,
                                                             'ReLU', 2)],
                        'branches': {'B': dict(layers=[], attention=[])}})


@pytest.mark.parametrize('k', [3, 5])
def test_residual_is_center_cropped(k):
    block = UnpaddedInvertedResidual(8, 8, 16, kernel_size=k, stride=1,
                                     se_cfg=dict(channels=16, ratio=4))
    assert [s[0] for s in spatial_layer_specs(block)] == [1, k, 1]  # SE skipped
    nn.init.zeros_(block.linear_conv.bn.weight)  # main path -> exactly 0
    nn.init.zeros_(block.linear_conv.bn.bias)
    block.eval()
    x = torch.randn(2, 8, 11, 13)
    c = (k - 1) // 2
    out = block(x)
    assert out.shape == (2, 8, 11 - k + 1, 13 - k + 1)
    torch.testing.assert_close(out, x[..., c:11 - c, c:13 - c])
    no_res = UnpaddedInvertedResidual(16, 8, 16, kernel_size=3, stride=1)
    assert not no_res.with_res_shortcut and not no_res.with_expand_conv


# --------------------------------------------------------------- attention
def test_attention_equations_1_to_5():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    conv = nn.Conv2d(5, 1, 1).double()
    with torch.no_grad():
        G, C, S = attention_maps(x, conv)
    # Independent computation, element by element in numpy.
    X = x.numpy().transpose(0, 2, 3, 1)  # (B, H, W, C) as in the paper
    w = conv.weight.detach().numpy().reshape(5)
    b = conv.bias.detach().numpy()[0]
    for n in range(2):
        g_t = np.array([[X[n, i, j] @ w + b for j in range(4)] for i in range(3)])
        g = np.exp(g_t) / np.exp(g_t).sum()  # eq. 1
        c_t = np.array([sum(X[n, i, j, c] * g[i, j] for i in range(3)
                            for j in range(4)) for c in range(5)])  # eq. 2
        c = np.exp(c_t) / np.exp(c_t).sum()  # eq. 3
        s_t = np.array([[sum(X[n, i, j, k] * c[k] for k in range(5))
                         for j in range(4)] for i in range(3)])  # eq. 4
        s = np.exp(s_t) / np.exp(s_t).sum()  # eq. 5
        np.testing.assert_allclose(G[n, 0].numpy(), g, rtol=1e-10)
        np.testing.assert_allclose(C[n].numpy(), c, rtol=1e-10)
        np.testing.assert_allclose(S[n, 0].numpy(), s, rtol=1e-10)
    assert G.shape == S.shape == (2, 1, 3, 4) and C.shape == (2, 5)
    torch.testing.assert_close(G.sum(dim=(1, 2, 3)), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(S.sum(dim=(1, 2, 3)), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(C.sum(dim=1), torch.ones(2, dtype=torch.float64))


def test_head_pooling_modes():
    torch.manual_seed(0)
    feats = tuple((torch.randn(2, 8, h, h), torch.randn(2, 8, h, h)) for h in (5, 3, 2))
    for pool in ('weighted_sum', 'mean'):
        head = AnchorNetHead(num_classes=3, in_channels=8, pool=pool)
        head.init_weights()
        outs = head.branch_outputs(feats, with_aux=True)
        for name in NAMES:
            o = outs[name]
            F, S = o['logit_map'], o['attention']
            ref = (F * S).sum(dim=(2, 3))
            if pool == 'mean':
                ref = ref / (F.shape[-1] * F.shape[-2])
            torch.testing.assert_close(o['logits'], ref)
            assert o['att_logits'].shape == (2, 3)
        # eval without attention: S is uniform, logits = GAP of F (weighted_sum)
        head.eval()
        head.test_with_attention = False
        logits = head(feats)
        if pool == 'weighted_sum':
            for name, lg in zip(NAMES, logits):
                torch.testing.assert_close(lg, outs[name]['logit_map'].mean(dim=(2, 3)))
    with pytest.raises(ValueError, match='pool must be one of'):
        AnchorNetHead(num_classes=3, pool='max')
    with pytest.raises(ValueError, match='2 feature pairs'):
        AnchorNetHead(num_classes=3, in_channels=8)(feats[:2])
    with pytest.raises(ValueError, match='in_channels has 2 entries'):
        AnchorNetHead(num_classes=3, in_channels=(8, 8))


# ------------------------------------------------------ model, loss, predict
def test_forward_backward_tiny():
    model = tiny_model()
    model.train()
    x = torch.randn(2, 3, 119, 127)
    samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(3)]
    losses = model(x, samples, mode='loss')
    assert sorted(losses) == sorted([f'loss_{n}' for n in NAMES] +
                                    [f'loss_att_{n}' for n in NAMES])
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    logits = model(x, mode='tensor')
    assert [tuple(t.shape) for t in logits] == [(2, 4)] * 3


def test_predict_fields():
    model = tiny_model().eval()
    x = torch.randn(3, 3, 135, 135)
    with torch.no_grad():
        results = model(x, mode='predict')
        feats = model.extract_feat(x)
        # the paper's test (default): logits without S; the attention maps
        # of eq. 5 are still recorded (Fig. 5)
        assert model.head.test_with_attention is False
        outs = model.head.branch_outputs(feats, with_attention=False)
        att = model.head.branch_outputs(feats, with_attention=True)
    geo = model.backbone.geometry(135)
    probs = {n: outs[n]['logits'].softmax(1).numpy() for n in NAMES}
    decision = lsp.decide(probs)
    assert len(results) == 3
    for i, r in enumerate(results):
        gamma, theta = int(decision.label[i]), decision.branch[i]
        assert r.pred_label.item() == gamma and r.branch == theta
        assert int(r.pred_score.argmax()) == gamma
        torch.testing.assert_close(r.pred_score, torch.from_numpy(probs[theta][i]))
        assert sorted(r.branch_scores) == sorted(NAMES)
        assert tuple(r.heatmap.shape) == geo[theta].map_size
        torch.testing.assert_close(r.heatmap, outs[theta]['logit_map'][i, gamma])
        for name, heatmap in r.heatmaps.items():  # every branch, class gamma
            torch.testing.assert_close(heatmap, outs[name]['logit_map'][i, gamma])
        assert tuple(r.attention.shape) == geo[theta].map_size
        assert sorted(r.attentions) == sorted(NAMES)
        for name in NAMES:
            torch.testing.assert_close(r.attentions[name],
                                       att[name]['attention'][i, 0])
        # the heatmap and the geometry are what LSP needs
        patches = lsp.localize_semantic_patches(r.heatmap.numpy(), geo[theta],
                                                **lsp.DOWNSTREAM[theta])
        assert len(patches.indices) >= 1


def test_trains_on_tiny_batch():
    """A quarter-width AnchorNet (4 classes) fits 8 synthetic images: each
    class is a coloured square at a class-specific place on noise."""
    model = tiny_model()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 111, 111, generator=g) * 0.3
    labels = [i % 4 for i in range(8)]
    for i, c in enumerate(labels):
        y0, x0 = (c // 2) * 50, (c % 2) * 50
        x[i, c % 3, y0:y0 + 55, x0:x0 + 55] += 2.0
    samples = [DataSample().set_gt_label(c) for c in labels]
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    history = []
    for _ in range(30):
        losses = model(x, samples, mode='loss')
        loss = sum(losses.values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append(loss.item())
    assert np.isfinite(history).all()
    assert np.mean(history[-5:]) < 0.25 * np.mean(history[:3]), history


# ----------------------------------------------------------------- configs
def test_configs_build():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'anchornet', 'imagenet',
                                   'anchornet_8xb32_in1k.py'))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.head.num_classes == 1000 and cfg.model.neck is None
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.1, momentum=0.9,
                                               weight_decay=1e-4)
    assert cfg.param_scheduler.milestones == [30, 60, 90]
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.dataset.data_root == 'data/imagenet'
    model = MODELS.build(cfg.model)
    assert isinstance(model.backbone, AnchorNet)
    assert model.head.branch_names == model.backbone.branch_names
