"""optimize_for_inference: every speed change leaves the logits (AnchorNet's
and a downstream classifier's) and AnchorNet's decision and heatmaps equal
to 1e-4, on random inputs with random BN statistics; the test-time logits
are the spatial mean of the heatmaps (the paper's test, eqs. 6-8)."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmfsod.classification import lsp
from mmfsod.classification.models import AnchorNetHead, PatchClassifier
from mmfsod.classification.models.utils import (ChannelAffine, optimize_for_inference,
                                                replace_depthwise_1x1)

NAMES = ('B63', 'B95', 'B111')
TOL = dict(atol=1e-4, rtol=1e-4)
CLASSIFIER = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, base_channels=16, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=5, in_channels=128))


def random_bn(model, seed=0):
    """Nonzero running statistics and affine parameters in every BN."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model


def anchornet(num_classes=5, **head_kw):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='AnchorNet', widen_factor=0.25),
        neck=None,
        head=dict(type='AnchorNetHead', num_classes=num_classes, in_channels=24,
                  **head_kw)))
    model.init_weights()
    return random_bn(model).eval()


def classifier():
    torch.manual_seed(1)
    model = MODELS.build(CLASSIFIER)
    model.init_weights()
    return random_bn(model, seed=1).eval()


STEPS = [
    dict(fuse_bn=True, skip_unused=False),
    dict(fuse_bn=False, skip_unused=True),
    dict(fuse_bn=False, skip_unused=False, channels_last=True),
    dict(fuse_bn=False, skip_unused=False, compile='jit', example_size=135),
    dict(fuse_bn=True, skip_unused=True, channels_last=True, compile='jit',
         example_size=135),
]


@pytest.mark.parametrize('kwargs', STEPS, ids=str)
@pytest.mark.parametrize('test_with_attention', [False, True])
def test_anchornet_outputs_unchanged(kwargs, test_with_attention):
    model = anchornet(test_with_attention=test_with_attention)
    fast = optimize_for_inference(copy.deepcopy(model), **kwargs)
    assert fast.head.pooled_test_logits == (kwargs['skip_unused']
                                            and not test_with_attention)
    x = torch.randn(2, 3, 135, 151)
    with torch.no_grad():
        ref_logits = model(x, mode='tensor')
        logits = fast(x, mode='tensor')
        ref, got = model.predict(x), fast.predict(x)
    for a, b in zip(ref_logits, logits):
        torch.testing.assert_close(b, a, **TOL)
    for r, g in zip(ref, got):
        assert (r.branch, int(r.pred_label)) == (g.branch, int(g.pred_label))
        torch.testing.assert_close(g.pred_score, r.pred_score, **TOL)
        for name in NAMES:
            torch.testing.assert_close(g.heatmaps[name], r.heatmaps[name], **TOL)
            if fast.backbone.attention_at_test:  # else uniform (skipped)
                torch.testing.assert_close(g.attentions[name], r.attentions[name],
                                           **TOL)
    # the geometry still comes from the (transformed) backbone
    for name, geo in model.backbone.geometry(135).items():
        new = fast.backbone.geometry(135)[name]
        assert (new.map_size, new.rf, new.stride) == (geo.map_size, geo.rf, geo.stride)
        assert (new.boxes == geo.boxes).all()


@pytest.mark.parametrize('kwargs', STEPS, ids=str)
def test_classifier_logits_unchanged(kwargs):
    model = classifier()
    fast = optimize_for_inference(copy.deepcopy(model), **kwargs)
    with torch.no_grad():
        for shape in ((1, 3, 135, 135), (3, 3, 63, 63), (2, 3, 111, 111)):
            x = torch.randn(shape)
            torch.testing.assert_close(fast(x, mode='tensor'), model(x, mode='tensor'),
                                       **TOL)


def test_bn_is_really_folded_and_depthwise_1x1_replaced():
    model = anchornet()
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    # depthwise 1x1: head rows 4-8 (k=1), B63's second layer and the three
    # attention bottlenecks (Tables 1, 2)
    n_dw1 = sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.groups > 1
                for m in model.modules())
    assert n_bn > 0 and n_dw1 == 9
    fast = optimize_for_inference(copy.deepcopy(model))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules()) == 0
    assert sum(isinstance(m, ChannelAffine) for m in fast.modules()) == 9
    assert fast.backbone.attention_at_test is False
    assert replace_depthwise_1x1(fast) == 0


def test_channel_affine_is_the_depthwise_conv():
    conv = nn.Conv2d(7, 7, 1, groups=7)
    x = torch.randn(2, 7, 4, 5)
    torch.testing.assert_close(ChannelAffine(conv)(x), conv(x))
    with pytest.raises(ValueError, match='not a depthwise 1x1 conv'):
        ChannelAffine(nn.Conv2d(7, 7, 3, groups=7))


def test_patch_classifier_predictions_unchanged():
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = PatchClassifier(classifier=CLASSIFIER, localizer=anchornet(num_classes=5),
                            lsp_setting='visualisation')
    random_bn(model)
    model.eval()
    fast = optimize_for_inference(copy.deepcopy(model), channels_last=True)
    x = torch.randn(2, 3, 135, 135)
    with torch.no_grad():
        ref = model.predict(x, [DataSample(), DataSample()])
        got = fast.predict(x, [DataSample(), DataSample()])
    for r, g in zip(ref, got):
        assert torch.equal(r.patch_boxes, g.patch_boxes)
        torch.testing.assert_close(g.patch_scores, r.patch_scores, **TOL)
    # the MACs counted drop by the skipped work (attention bnecks, K-channel maps)
    assert fast.macs('localizer', (135, 135)) < model.macs('localizer', (135, 135))


def test_bad_compile_mode():
    with pytest.raises(ValueError, match='compile must be one of'):
        optimize_for_inference(classifier(), compile='tvm')


# ------------------------------------------- the paper's test-time logits
def test_test_logits_are_the_spatial_mean_of_the_heatmaps():
    """Default test (test_with_attention=False, 'weighted_sum'): the branch
    logits deciding class and branch (eqs. 6-8) are the spatial mean of the
    per-location logits F_j = conv1x1(feat_j), computed here independently,
    so the decided class's probability comes from the mean of its heatmap."""
    head = AnchorNetHead(num_classes=4, in_channels=8)
    head.init_weights()
    assert head.test_with_attention is False
    head.eval()
    torch.manual_seed(0)
    feats = tuple((torch.randn(2, 8, h, h), torch.randn(2, 8, h, h)) for h in (5, 3, 2))
    for pooled in (False, True):
        head.pooled_test_logits = pooled
        with torch.no_grad():
            logits = head(feats)
            results = head.predict(feats)
        for name, (feat, _), lg in zip(NAMES, feats, logits):
            conv = head.logits_convs[name]
            F = torch.einsum('bchw,kc->bkhw', feat, conv.weight.flatten(1)) + \
                conv.bias.view(1, -1, 1, 1)  # (B, K, h, w)
            torch.testing.assert_close(lg, F.mean(dim=(2, 3)))
            for i, r in enumerate(results):
                gamma = int(r.pred_label)
                torch.testing.assert_close(r.heatmaps[name], F[i, gamma])
                # the class probability's logit = the heatmap's spatial mean
                torch.testing.assert_close(lg[i, gamma], r.heatmaps[name].mean())
                torch.testing.assert_close(r.branch_scores[name],
                                           F[i].mean(dim=(1, 2)).softmax(0))
        probs = {n: lg.softmax(1).numpy() for n, lg in zip(NAMES, logits)}
        decision = lsp.decide(probs)
        assert [r.branch for r in results] == list(decision.branch)


def test_pooled_logits_with_attention_and_mean_pool():
    torch.manual_seed(0)
    feats = tuple((torch.randn(2, 8, h, h), torch.randn(2, 8, h, h)) for h in (5, 3, 2))
    for pool in ('weighted_sum', 'mean'):
        head = AnchorNetHead(num_classes=3, in_channels=8, pool=pool,
                             test_with_attention=True)
        head.init_weights()
        head.eval()
        ref = head(feats)
        head.pooled_test_logits = True
        for a, b in zip(ref, head(feats)):
            torch.testing.assert_close(b, a)


def test_skipped_attention_is_an_error_where_it_is_needed():
    head = AnchorNetHead(num_classes=3, in_channels=8, test_with_attention=True).eval()
    feats = tuple((torch.randn(1, 8, h, h), None) for h in (5, 3, 2))
    with pytest.raises(ValueError, match='attention_at_test=False'):
        head(feats)
    head.test_with_attention = False
    assert [t.shape for t in head(feats)] == [(1, 3)] * 3
