"""PatchClassifier with confidence early exit (exit_cfg): the staged,
batched classification of LSP patches."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmpretrain.structures import DataSample

from mmfsod.classification.models.classifiers.patch_stages import (
    classify_in_stages, stage_cumulative_scores)

from test_patch_classifier import H, NUM_CLASSES, W
from test_patch_classifier import build as build_train_mode


def build(seed=0, **kwargs):
    """test_patch_classifier's tiny PatchClassifier, in eval mode."""
    return build_train_mode(seed, **kwargs).eval()


@pytest.fixture(scope='module')
def inputs():
    g = torch.Generator().manual_seed(3)
    return torch.randn(3, 3, H, W, generator=g)  # (B, 3, H, W), normalised


def predict(model, inputs):
    with torch.no_grad():
        return model.predict(inputs)


@pytest.mark.parametrize('thresholds', [math.inf, [2.0, 1.5]])
def test_thresholds_that_never_trigger_equal_the_all_patch_pipeline(inputs, thresholds):
    ref = predict(build(), inputs)
    out = predict(build(exit_cfg=dict(thresholds=thresholds)), inputs)
    assert max(p.num_patches for p in ref) > 1
    for a, b in zip(ref, out):
        assert b.num_patches == a.num_patches == b.num_candidates
        assert b.exit_stage == b.num_stages - 1 == a.num_patches - 1
        torch.testing.assert_close(b.patch_scores, a.patch_scores, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(b.pred_score, a.pred_score, atol=1e-6, rtol=1e-5)
        assert int(b.pred_label) == int(a.pred_label)
        assert b.patch_boxes.tolist() == a.patch_boxes.tolist()
        assert b.classifier_macs == a.classifier_macs


@pytest.mark.parametrize('score', ['max', 'margin'])
def test_threshold_zero_is_the_first_lsp_patch_alone(inputs, score):
    ref = predict(build(max_patches=1), inputs)
    out = predict(build(exit_cfg=dict(thresholds=0.0, score=score)), inputs)
    for a, b in zip(ref, out):
        assert b.num_patches == 1 and b.exit_stage == 0
        torch.testing.assert_close(b.pred_score, a.pred_score, atol=1e-6, rtol=1e-5)
        assert b.patch_boxes.tolist() == a.patch_boxes.tolist()
        assert b.classifier_macs == a.classifier_macs
        assert b.num_candidates >= 1


class MeanOfChannel0(nn.Module):
    """Logits ``[mean(x[:, 0]), 0, 0, 0, 0]`` through a 1x1 convolution
    (3 MACs a pixel): a patch of value ``a`` scores ``e^a / (e^a + 4)`` on
    class 0."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))

    def forward(self, x, mode='tensor'):
        a = self.conv(x).mean(dim=(1, 2, 3))  # (N,)
        return torch.stack([a] + [torch.zeros_like(a)] * (NUM_CLASSES - 1), dim=1)


def fake_decision(heatmap):
    sample = DataSample().set_pred_label(0)
    sample.set_field('B63', 'branch', field_type='metainfo')
    sample.set_field(torch.as_tensor(heatmap, dtype=torch.float32), 'heatmap',
                     dtype=torch.Tensor)
    return sample


def test_one_image_exits_at_stage_1_another_at_stage_3(monkeypatch):
    """Three non-overlapping B63 patches per image, in this LSP order:
    [0, 0, 63, 63], [64, 0, 127, 63], [0, 64, 63, 127]. Image 0 is 10
    everywhere (every patch scores 0.9998 on class 0); image 1 is 0 but for
    its third patch (0.2 uniform, 0.2 uniform, then 0.9998). Thresholds
    (0.9, 0.9, 0.4): image 0 stops after stage 1; image 1 reaches
    (0.2 + 0.2 + 0.9998) / 3 = 0.4666 only at stage 3."""
    model = build(classifier=MeanOfChannel0(), count_full_image_macs=False,
                  exit_cfg=dict(thresholds=[0.9, 0.9, 0.4]))
    geo = model.localizer.backbone.geometry((H, W))['B63']
    heatmap = np.zeros(geo.map_size)
    heatmap[0, 0], heatmap[0, 8], heatmap[8, 0] = 3.0, 2.0, 1.0
    monkeypatch.setattr(model.localizer, 'predict',
                        lambda x: [fake_decision(heatmap) for _ in x])
    monkeypatch.setattr(model, 'lsp_setting', {n: dict(k_max=3, iou_thr=0.3,
                                                       coverage=1.0)
                                               for n in ('B63', 'B95', 'B111')})
    x = torch.zeros(2, 3, H, W)
    x[0] = 10.0
    x[1, 0, 64:127, 0:63] = 10.0
    model.macs('classifier', (63, 63))  # traced before the hook is set
    seen = []
    handle = model.classifier.register_forward_pre_hook(
        lambda module, args: seen.append(tuple(args[0].shape)))
    try:
        preds = predict(model, x)
    finally:
        handle.remove()
    # stage 1: both images in one forward; stages 2 and 3: image 1 alone
    assert seen == [(2, 3, 63, 63), (1, 3, 63, 63), (1, 3, 63, 63)]
    p0, p1 = preds
    assert (p0.exit_stage, p0.num_patches, p0.num_candidates) == (0, 1, 3)
    assert (p1.exit_stage, p1.num_patches, p1.num_candidates) == (2, 3, 3)
    assert p0.patch_boxes.tolist() == [[0, 0, 63, 63]]
    assert p1.patch_boxes.tolist() == [[0, 0, 63, 63], [64, 0, 127, 63],
                                       [0, 64, 63, 127]]
    one = 63 * 63 * 3  # the 1x1 conv's MACs on one 63 x 63 patch, by hand
    assert model.macs('classifier', (63, 63)) == one
    assert p0.classifier_macs == one and p1.classifier_macs == 3 * one
    assert p0.localizer_macs == p1.localizer_macs > 0
    hi = math.exp(10) / (math.exp(10) + 4)
    assert float(p0.pred_score[0]) == pytest.approx(hi, abs=1e-6)
    assert float(p1.pred_score[0]) == pytest.approx((0.2 + 0.2 + hi) / 3, abs=1e-6)


def test_stages_of_several_patches_and_mixed_sizes():
    """Stage sizes (2, 3) over images with patches of two sizes: every stage
    is one forward per size; the rule sees the cumulative mean."""
    torch.manual_seed(0)
    lin = nn.Linear(3, 4)

    def logits_fn(x):  # (n, 3, s, s) -> (n, 4)
        return lin(x.mean(dim=(2, 3)))

    patches = [torch.randn(6, 3, 5, 5), torch.randn(4, 3, 7, 7), torch.randn(1, 3, 5, 5)]
    calls = []

    def counted(x):
        calls.append(tuple(x.shape))
        return logits_fn(x)

    exit_cfg = dict(stages=(2, 3), thresholds=(math.inf, ), score='max')
    with torch.no_grad():
        out = classify_in_stages(counted, patches, exit_cfg)
    # stage 1: sizes 5 (2 + 1 patches) and 7 (2); stage 2: 5 (3), 7 (2);
    # stage 3: image 0's last patch
    assert calls == [(3, 3, 5, 5), (2, 3, 7, 7), (3, 3, 5, 5), (2, 3, 7, 7),
                     (1, 3, 5, 5)]
    assert [r.num_stages for r in out] == [3, 2, 1]
    for r, p in zip(out, patches):
        with torch.no_grad():
            torch.testing.assert_close(r.probs, logits_fn(p).softmax(-1))
    cum = stage_cumulative_scores(out[0].probs, (2, 3))
    assert cum.shape == (3, 4)
    np.testing.assert_allclose(cum[0], out[0].probs[:2].double().mean(0).numpy())
    # max_batch splits a forward without changing the result
    with torch.no_grad():
        chunked = classify_in_stages(logits_fn, patches, None, max_batch=2)
        whole = classify_in_stages(logits_fn, patches, None)
    for a, b in zip(chunked, whole):
        torch.testing.assert_close(a.probs, b.probs)
    with pytest.raises(ValueError, match='image 1 has patches of shape'):
        classify_in_stages(logits_fn, [patches[0], torch.zeros(0, 3, 5, 5)])


def test_bad_exit_cfg_is_a_clear_error():
    with pytest.raises(ValueError, match=r'PatchClassifier: exit_cfg.thresholds must not '
                                         'be NaN'):
        build(exit_cfg=dict(thresholds=float('nan')))
    with pytest.raises(ValueError, match=r'PatchClassifier: exit_cfg.stages must be'):
        build(exit_cfg=dict(thresholds=0.5, stages=(0, )))
    with pytest.raises(ValueError, match='max_patch_batch must be None or an int'):
        build(max_patch_batch=0)


def _probs_as_logits(probs):
    """Patches ``(n, K, 1, 1)`` (float64) holding ``log(probs)``: through
    :func:`_identity_logits` their softmaxes are ``probs`` again."""
    return torch.as_tensor(np.log(probs), dtype=torch.float64)[:, :, None, None]


def _identity_logits(x):  # (n, K, 1, 1) -> (n, K)
    return x.flatten(1)


def test_the_exit_rule_sees_the_running_mean_not_the_last_patch():
    """Patch confidences 0.2 (uniform over 5 classes), 0.9998, 0.2 with a
    threshold of 0.9: after stage 1 the running mean is (0.2 + 0.9998) / 2 =
    0.6, so the image goes on to its last stage (the last patch alone,
    0.9998, would stop it after stage 1)."""
    hi = math.exp(10) / (math.exp(10) + 4)
    assert hi == pytest.approx(0.9998, abs=1e-4)
    patches = torch.zeros(3, NUM_CLASSES, 1, 1, dtype=torch.float64)
    patches[1, 0] = 10.0  # (3, 5, 1, 1): logits [0]*5, [10, 0, 0, 0, 0], [0]*5
    for thresholds in [(0.9, ), (0.9, 0.9, 0.0)]:
        exit_cfg = dict(stages=(1, ), thresholds=thresholds, score='max')
        (out, ) = classify_in_stages(_identity_logits, [patches], exit_cfg)
        assert (out.exit_stage, out.num_stages, out.probs.shape[0]) == (2, 3, 3)
        cum = stage_cumulative_scores(out.probs, (1, ))
        np.testing.assert_allclose(cum.max(axis=1), [0.2, (0.2 + hi) / 2,
                                                     (0.4 + hi) / 3])
    # a threshold the running mean reaches after stage 1 stops it there
    (out, ) = classify_in_stages(_identity_logits, [patches],
                                 dict(stages=(1, ), thresholds=(0.9, 0.55), score='max'))
    assert out.exit_stage == 1 and out.probs.shape[0] == 2


@pytest.mark.parametrize('stages, score', [((1, ), 'max'), ((2, 1), 'margin')])
def test_staged_exits_equal_the_calibration_table(stages, score):
    """On random softmaxes, the runtime rule (classify_in_stages) stops every
    image where the offline table (early_exit.exit_stages) says, for
    thresholds that split the images across stages, including thresholds
    exactly equal to a recorded confidence before an image's last stage."""
    rng = np.random.default_rng(0)
    probs = [rng.dirichlet(np.full(4, 0.5), size=int(rng.integers(1, 8)))
             for _ in range(40)]
    patches = [_probs_as_logits(p) for p in probs]
    with torch.no_grad():
        full = classify_in_stages(_identity_logits, patches, None)
    from mmfsod.classification import early_exit as ee
    table = ee.build_stage_table([r.probs.numpy() for r in full], [0] * 40, [0] * 40,
                                 [1] * 40, stages, score)
    early = table.conf[:, 0][table.num_stages > 1]  # first-stage confidences
    tie = float(np.sort(early)[len(early) // 2])  # one image's, exactly
    q = np.quantile(table.conf[np.isfinite(table.conf)], [0.3, 0.6, 0.8])
    for thresholds in [(tie, ), (float(q[2]), float(q[1]), float(q[0])),
                       (float(q[1]), )]:
        expected = ee.exit_stages(table, thresholds)
        # non-trivial: some images stop before their last stage, some do not
        assert (expected < table.num_stages - 1).any()
        assert (expected > 0).any()
        exit_cfg = ee.check_exit_cfg(dict(stages=stages, thresholds=thresholds,
                                          score=score))
        with torch.no_grad():
            out = classify_in_stages(_identity_logits, patches, exit_cfg)
        assert [r.exit_stage for r in out] == expected.tolist()
        for r, p, stop in zip(out, probs, expected):
            assert r.probs.shape[0] == ee.stage_ends(len(p), stages)[stop]
            np.testing.assert_allclose(r.probs.numpy(), p[:r.probs.shape[0]],
                                       rtol=1e-12, atol=1e-12)
