"""AnchorNet in the classifier's inference engine (issue 23, item 4): the
decision and the heatmap of the branch used equal AnchorNetHead.predict's,
and PatchClassifier with an engine gives the same decisions, patches and
scores (1e-4) as with AnchorNet in PyTorch; bad settings are one clear line."""
import numpy as np
import pytest
import torch

from mmfsod.classification.models.utils import optimize_for_inference
from mmfsod.classification.models.utils.anchornet_backend import (AnchorNetBackend,
                                                                  decide_and_map)
from mmfsod.classification.models.utils.onnx_export import (AnchorNetTestPath,
                                                            ClassifierLogits,
                                                            export_onnx)

from test_onnx_backends import ENGINES, build, needs_ort, predict, randomize_bn
from test_patch_classifier import H, NUM_CLASSES, W

BRANCHES = ('B63', 'B95', 'B111')


def assert_close_to_scale(got, want, tol):
    """``|got - want| <= tol x max |want|`` (float32 rounding)."""
    scale = float(want.abs().max())
    assert got.shape == want.shape and scale > 0
    assert float((got.float() - want.float()).abs().max()) <= tol * scale


def branch_features(localizer, batch, seed):
    """Random branch features ``(B, C, h_j, w_j)`` of a localizer's map sizes
    at H x W, one scale per image: the branches and classes decided from
    them vary from image to image (a random AnchorNet's own features hardly
    depend on the image)."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 3.0, batch).view(-1, 1, 1, 1)
    geometry = localizer.backbone.geometry((H, W))
    channels = localizer.head.logits_convs['B63'].in_channels
    return [scale * torch.randn(batch, channels, *geometry[n].map_size, generator=g)
            for n in BRANCHES]


@pytest.fixture(scope='module')
def images():
    g = torch.Generator().manual_seed(3)
    return torch.randn(4, 3, H, W, generator=g)  # (B, 3, H, W), normalised


@pytest.mark.parametrize('optimized', [False, True])
@pytest.mark.parametrize('branch', [None, 'B95'])
def test_decide_and_map_equals_head_predict(optimized, branch):
    """On the same branch features: the same gamma and theta as
    AnchorNetHead.predict, and the used branch's heatmap to 1e-5, with the
    head's K-channel maps (as built) or its pooled test logits (optimised);
    NumPy inputs (an engine's outputs) give the same."""
    localizer = build().localizer
    g = torch.Generator().manual_seed(4)
    for conv in localizer.head.logits_convs.values():
        conv.weight.data.copy_(torch.randn(conv.weight.shape, generator=g))
        conv.bias.data.copy_(torch.randn(conv.bias.shape, generator=g))
    if optimized:
        optimize_for_inference(localizer)
    assert localizer.head.pooled_test_logits == optimized
    feats = branch_features(localizer, 8, seed=5)
    pairs = tuple((f, None) for f in feats)
    with torch.no_grad():
        ref = localizer.head.predict(pairs)
        logits = localizer.head(pairs)  # the test logits, one (B, K) per branch
    got = decide_and_map(localizer.head, logits, feats, branch)
    assert len({d.branch for d in ref}) > 1  # the decisions vary
    assert len({int(d.pred_label) for d in ref}) > 1
    for a, b in zip(ref, got):
        assert b.label == int(a.pred_label) and b.branch == a.branch
        want = a.heatmaps[branch] if branch else a.heatmap
        assert b.heatmap.dtype == torch.float32
        assert_close_to_scale(b.heatmap, want, 1e-5)
    again = decide_and_map(localizer.head, [t.numpy() for t in logits],
                           [f.numpy() for f in feats], branch)
    assert [(d.label, d.branch) for d in again] == [(d.label, d.branch) for d in got]
    with pytest.raises(ValueError, match=r'decide_and_map: 2 logits and 3 features'):
        decide_and_map(localizer.head, logits[:2], feats)


@pytest.mark.parametrize('backend', ENGINES)
@pytest.mark.parametrize('kwargs', [dict(), dict(branch='B111'),
                                    dict(mode='rescale')])
def test_anchornet_in_the_engine_equals_pytorch(images, backend, kwargs):
    """PatchClassifier with an engine runs AnchorNet there (its PyTorch
    backbone never runs) and predicts as AnchorNet in PyTorch does: the same
    decisions, branches, boxes, MACs and (1e-4) scores; the Localized
    heatmaps equal localizer.predict's to 1e-4."""
    ref_model = build(**kwargs)
    randomize_bn(ref_model.localizer, 11)
    ref = predict(ref_model, images)
    model = build(backend=backend, backend_cfg=dict(num_threads=1), **kwargs)
    randomize_bn(model.localizer, 11)
    assert model.anchornet_backend.uses_engine(model.localizer)
    predict(model, images)  # exports both graphs
    calls = []
    model.localizer.backbone.register_forward_pre_hook(lambda m, a: calls.append(1))
    out = predict(model, images)
    assert not calls  # AnchorNet's PyTorch backbone did not run
    assert model.anchornet_backend._engine.backend == backend
    for a, b in zip(ref, out):
        for key in ('localizer_label', 'branch', 'num_patches', 'num_candidates',
                    'localizer_macs', 'classifier_macs', 'full_image_macs'):
            assert b.metainfo.get(key) == a.metainfo.get(key), key
        assert b.patch_boxes.tolist() == a.patch_boxes.tolist()
        torch.testing.assert_close(b.pred_score, a.pred_score, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(b.patch_scores, a.patch_scores, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        decisions = ref_model.localizer.predict(images)
        located = model.anchornet_backend.localize(model.localizer, images,
                                                   kwargs.get('branch'))
    for a, b in zip(decisions, located):
        assert (b.label, b.branch) == (int(a.pred_label), a.branch)
        want = a.heatmaps[kwargs['branch']] if 'branch' in kwargs else a.heatmap
        assert_close_to_scale(b.heatmap, want, 1e-4)


@needs_ort
def test_anchornet_stays_in_pytorch_when_asked_or_with_attention(images):
    """anchornet_in_engine=False, or a head that weights its logits by the
    attention at test (not the exported graph): localizer.predict as before."""
    for model in (build(backend='onnxruntime',
                        backend_cfg=dict(anchornet_in_engine=False)),
                  build(backend='onnxruntime')):
        if model.anchornet_backend.in_engine:
            model.localizer.head.test_with_attention = True
        assert not model.anchornet_backend.uses_engine(model.localizer)
        calls = []
        model.localizer.backbone.register_forward_pre_hook(lambda m, a: calls.append(1))
        ref = predict(build(), images[:2])
        out = predict(model, images[:2])
        assert calls and model.anchornet_backend._engine is None
        for a, b in zip(ref, out):
            assert b.patch_boxes.tolist() == a.patch_boxes.tolist()
            assert b.metainfo['branch'] == a.metainfo['branch']
    assert not AnchorNetBackend('pytorch').in_engine


@needs_ort
def test_anchornet_onnx_file(tmp_path, images):
    """An exported AnchorNet graph serves the model (same predictions); a
    classifier graph, classes that differ, a missing file or a bad flag is
    one line naming it."""
    model = build()
    randomize_bn(model.localizer, 11)
    anchor = str(tmp_path / 'anchornet.onnx')
    export_onnx(AnchorNetTestPath(model.localizer), anchor, 'anchornet', NUM_CLASSES,
                111, W)
    served = build(backend='onnxruntime', backend_cfg=dict(anchornet_onnx_file=anchor))
    served.load_state_dict(model.state_dict())
    served.eval()
    for a, b in zip(predict(model.eval(), images), predict(served, images)):
        assert b.patch_boxes.tolist() == a.patch_boxes.tolist()
        torch.testing.assert_close(b.pred_score, a.pred_score, atol=1e-4, rtol=1e-4)
    assert served.anchornet_backend._engine.onnx_file == anchor
    classifier = str(tmp_path / 'classifier.onnx')
    export_onnx(ClassifierLogits(model.classifier), classifier, 'classifier',
                NUM_CLASSES, 63, H)
    with pytest.raises(ValueError, match=r"classifier\.onnx: a 'classifier' graph, "
                                         r"but the config needs a 'anchornet' graph"):
        build(backend='onnxruntime', backend_cfg=dict(anchornet_onnx_file=classifier))
    other = str(tmp_path / 'other.onnx')
    export_onnx(AnchorNetTestPath(model.localizer), other, 'anchornet', 7, 111, W)
    with pytest.raises(ValueError, match=r'other\.onnx: exported with 7 classes, the '
                                         rf'config has {NUM_CLASSES}'):
        build(backend='onnxruntime', backend_cfg=dict(anchornet_onnx_file=other))
    with pytest.raises(FileNotFoundError, match=r"anchornet_onnx_file 'nowhere\.onnx' "
                                                r'does not exist'):
        build(backend='onnxruntime', backend_cfg=dict(anchornet_onnx_file='nowhere.onnx'))
    with pytest.raises(ValueError, match=r'anchornet_in_engine must be True or False'):
        build(backend='onnxruntime', backend_cfg=dict(anchornet_in_engine='yes'))
    served.localizer.head.test_with_attention = True
    with pytest.raises(ValueError, match=r'anchornet\.onnx: the graph is AnchorNet with '
                                         r'the attention branch cut'):
        served.anchornet_backend.check(served.localizer, None)
    served.localizer.head.test_with_attention = False
    assert np.isfinite(served.anchornet_backend.engine(served.localizer)(
        images[:1])[0].numpy()).all()


@needs_ort
def test_anchornet_engine_follows_the_weights(images):
    """Weights loaded after the first prediction are exported again: the
    decisions then follow the new localizer."""
    model = build(backend='onnxruntime')
    predict(model, images[:2])
    first = model.anchornet_backend._engine
    other = build(seed=3)
    randomize_bn(other.localizer, 21)
    model.localizer.load_state_dict(other.localizer.state_dict())
    with torch.no_grad():
        want = other.localizer.predict(images[:2])
        got = model.anchornet_backend.localize(model.localizer, images[:2])
    assert model.anchornet_backend._engine is not first
    for a, b in zip(want, got):
        assert (b.label, b.branch) == (int(a.pred_label), a.branch)
        assert_close_to_scale(b.heatmap, a.heatmap, 1e-4)
