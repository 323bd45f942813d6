"""PatchClassifier (downstream classification from LSP patches, paper
section 4.3, Tables 3-4), its cost metric, and the downstream configs."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint
from mmpretrain.registry import METRICS, MODELS
from mmpretrain.structures import DataSample

from mmfsod.classification import lsp
from mmfsod.classification.models import PatchClassifier

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
NUM_CLASSES = 5
H, W = 128, 160  # not square: x and y must not be swapped
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
PREPROCESSOR = dict(type='ClsDataPreprocessor', mean=MEAN, std=STD, to_rgb=True)
# quarter-width AnchorNet: the paper's kernels and strides (RF 63/95/111)
LOCALIZER = dict(type='ImageClassifier',
                 backbone=dict(type='AnchorNet', widen_factor=0.25), neck=None,
                 head=dict(type='AnchorNetHead', num_classes=NUM_CLASSES,
                           in_channels=24))
CLASSIFIER = dict(type='ImageClassifier',
                  backbone=dict(type='ResNet', depth=18, stem_channels=16,
                                base_channels=16, out_indices=(3, )),
                  neck=dict(type='GlobalAveragePooling'),
                  head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                            in_channels=128))
RF = {'B63': 63, 'B95': 95, 'B111': 111}


def macs_of(module, shape):
    """An independent FlopAnalyzer count (module in eval mode)."""
    module.eval()
    with torch.no_grad():
        analyzer = FlopAnalyzer(module, (torch.zeros(*shape), ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        return int(sum(v for op, v in analyzer.by_operator().items()
                       if op in ('conv', 'linear', 'addmm', 'matmul', 'mm', 'bmm')))


def test_count_macs_counts_multiply_accumulates_only():
    """A 3x3 conv 3 -> 8 on 10 x 10 (8 x 8 out) and a linear 8 -> 5: BN,
    ReLU and pooling add nothing."""
    from mmfsod.classification.models.classifiers import count_macs
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
                              torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(8, 5))
    assert count_macs(net, (1, 3, 10, 10)) == 8 * 8 * 8 * 3 * 9 + 8 * 5
    assert net.training  # the flag is restored


def build(seed=0, **kwargs):
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    cfg = dict(type='PatchClassifier', localizer=LOCALIZER, classifier=CLASSIFIER,
               data_preprocessor=PREPROCESSOR)
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def model():
    return build().eval()


@pytest.fixture(scope='module')
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 3, H, W, generator=g)  # (B, 3, H, W), normalised


@pytest.fixture(scope='module')
def predictions(model, inputs):
    with torch.no_grad():
        return model.predict(inputs)


def fake_decision(branch, heatmap, label=2):
    """A localizer prediction with a chosen branch and heatmap."""
    sample = DataSample().set_pred_label(label)
    sample.set_field(branch, 'branch', field_type='metainfo')
    sample.set_field(torch.as_tensor(heatmap, dtype=torch.float32), 'heatmap',
                     dtype=torch.Tensor)
    return sample


def capture_classifier_inputs(model, sizes):
    """Record every input of the classifier's forward (the MAC counts at
    ``sizes``, which trace the classifier, are made first)."""
    for size in sizes:
        model.macs('classifier', size)
    if model.count_full_image_macs:
        model.macs('classifier', (H, W))
    seen = []
    handle = model.classifier.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    return seen, handle


# ------------------------------------------------- the image score, eq. sum
def test_score_is_sum_of_softmaxes_of_patches_one_at_a_time(model, inputs,
                                                            predictions):
    """Independently: the localizer's decision, LSP on its heatmap, crops by
    tensor slicing and the classifier on one patch at a time."""
    geometry = model.localizer.backbone.geometry((H, W))
    with torch.no_grad():
        decisions = model.localizer.predict(inputs)
    multi = 0
    for i, (pred, dec) in enumerate(zip(predictions, decisions)):
        branch = dec.branch
        geo = geometry[branch]
        result = lsp.localize_semantic_patches(dec.heatmap.numpy(), geo,
                                               **lsp.DOWNSTREAM[branch])
        total = torch.zeros(NUM_CLASSES)
        singles = []
        for x1, y1, x2, y2 in result.boxes.tolist():
            patch = inputs[i:i + 1, :, y1:y2, x1:x2]  # (1, 3, rf, rf)
            assert tuple(patch.shape) == (1, 3, RF[branch], RF[branch])
            with torch.no_grad():
                prob = model.classifier(patch, mode='tensor').softmax(-1)[0]
            singles.append(prob)
            total += prob
        n = len(singles)
        multi += n > 1
        assert pred.num_patches == n and pred.branch == branch
        assert pred.patch_size == RF[branch]
        assert pred.localizer_label == int(dec.pred_label)
        assert pred.patch_boxes.tolist() == result.boxes.tolist()
        torch.testing.assert_close(pred.patch_scores, torch.stack(singles),
                                   atol=1e-5, rtol=1e-4)
        # pred_score is the sum of the softmaxes divided by n (sums to 1)
        torch.testing.assert_close(pred.pred_score * n, total, atol=1e-5, rtol=1e-4)
        assert abs(float(pred.pred_score.sum()) - 1) < 1e-5
        assert int(pred.pred_label) == int(total.argmax())
    assert multi >= 1  # the batched forward was exercised with several patches


def test_patches_are_rf_crops_where_lsp_says(model, inputs, monkeypatch):
    """A known heatmap: one peak at location (i, j) of B63 -> the patch is the
    input's [8j, 8i, 8j + 63, 8i + 63] box, fed at its native 63 x 63."""
    geo = model.localizer.backbone.geometry((H, W))['B63']
    h, w = geo.map_size
    assert (h, w) == ((H - 63) // 8 + 1, (W - 63) // 8 + 1)
    i, j = 3, 5
    heatmap = np.zeros((h, w))
    heatmap[i, j] = 10.0
    heatmap[0, 0] = 5.0  # second best, far away (IoU 0 with the first)
    monkeypatch.setattr(model.localizer, 'predict',
                        lambda x: [fake_decision('B63', heatmap) for _ in x])
    setting = {n: dict(k_max=2, iou_thr=0.5, coverage=1.0) for n in RF}
    monkeypatch.setattr(model, 'lsp_setting', setting)
    seen, handle = capture_classifier_inputs(model, [(63, 63)])
    try:
        with torch.no_grad():
            pred = model.predict(inputs[:1])[0]
    finally:
        handle.remove()
    assert pred.patch_boxes.tolist() == [[8 * j, 8 * i, 8 * j + 63, 8 * i + 63],
                                         [0, 0, 63, 63]]
    assert len(seen) == 1  # one batched forward for the image's patches
    batch = seen[0]  # (2, 3, 63, 63)
    assert tuple(batch.shape) == (2, 3, 63, 63)
    assert torch.equal(batch[0], inputs[0, :, 8 * i:8 * i + 63, 8 * j:8 * j + 63])
    assert torch.equal(batch[1], inputs[0, :, :63, :63])
    # max_patches keeps the most activated one
    monkeypatch.setattr(model, 'max_patches', 1)
    with torch.no_grad():
        pred = model.predict(inputs[:1])[0]
    assert pred.patch_boxes.tolist() == [[8 * j, 8 * i, 8 * j + 63, 8 * i + 63]]
    assert pred.num_patches == 1


def test_forced_branch_localizes_with_that_branch_on_every_image(inputs, monkeypatch):
    """branch='B111': the decision picked B63, but the patches are B111's,
    from B111's heatmap of the decided class (Table 4 per patch size)."""
    model = build(branch='B111', max_patches=1, count_full_image_macs=False).eval()
    geo = model.localizer.backbone.geometry((H, W))
    heatmaps = {n: np.zeros(g.map_size) for n, g in geo.items()}
    heatmaps['B111'][1, 2] = 1.0
    heatmaps['B63'][4, 4] = 1.0

    def decide(x):
        out = []
        for _ in x:
            d = fake_decision('B63', heatmaps['B63'])
            d.set_field({n: torch.as_tensor(m, dtype=torch.float32)
                         for n, m in heatmaps.items()}, 'heatmaps', dtype=dict)
            out.append(d)
        return out

    monkeypatch.setattr(model.localizer, 'predict', decide)
    with torch.no_grad():
        preds = model.predict(inputs)
    for pred in preds:
        assert pred.branch == 'B111' and pred.patch_size == 111
        assert pred.patch_boxes.tolist() == [[16, 8, 16 + 111, 8 + 111]]
        assert pred.classifier_macs == macs_of(model.classifier, (1, 3, 111, 111))
    rescale = build(mode='rescale', branch='B95', count_full_image_macs=False).eval()
    monkeypatch.setattr(rescale.localizer, 'predict', decide)
    with torch.no_grad():
        assert rescale.predict(inputs[:1])[0].patch_size == 95


def test_rescale_feeds_the_whole_image_resized_to_the_patch_size(inputs, monkeypatch):
    model = build(mode='rescale', max_patches=1, count_full_image_macs=False).eval()
    h, w = model.localizer.backbone.geometry((H, W))['B95'].map_size
    monkeypatch.setattr(model.localizer, 'predict',
                        lambda x: [fake_decision('B95', np.ones((h, w))) for _ in x])
    seen, handle = capture_classifier_inputs(model, [(95, 95)])
    try:
        with torch.no_grad():
            preds = model.predict(inputs)
    finally:
        handle.remove()
    # one forward for both images: patches of one size are batched across images
    assert len(seen) == 1 and tuple(seen[0].shape) == (2, 3, 95, 95)
    for i, pred in enumerate(preds):
        expected = F.interpolate(inputs[i:i + 1], size=(95, 95), mode='bilinear',
                                 align_corners=False, antialias=True)
        torch.testing.assert_close(seen[0][i:i + 1], expected)
        assert pred.patch_boxes.tolist() == [[0, 0, W, H]]
        assert pred.num_patches == 1 and pred.patch_size == 95
        assert pred.classifier_macs == macs_of(model.classifier, (1, 3, 95, 95))
        assert 'full_image_macs' not in pred  # count_full_image_macs=False
    # a constant image stays constant: the whole image, not a crop, is resized
    const = torch.zeros(1, 3, H, W)
    const[:, :, :, :W // 2] = 1.0  # left half 1, right half 0
    seen, handle = capture_classifier_inputs(model, [(95, 95)])
    try:
        with torch.no_grad():
            model.predict(const)
    finally:
        handle.remove()
    resized = seen[0][0]  # (3, 95, 95)
    assert torch.allclose(resized[:, :, :40], torch.ones(3, 95, 40))
    assert torch.allclose(resized[:, :, 55:], torch.zeros(3, 95, 40))


def test_full_mode_is_the_classifier_on_the_whole_image(inputs):
    model = build(mode='full', localizer=None).eval()
    assert model.localizer is None
    with torch.no_grad():
        preds = model.predict(inputs)
        probs = model.classifier(inputs, mode='tensor').softmax(-1)
    full = macs_of(model.classifier, (1, 3, H, W))
    for pred, prob in zip(preds, probs):
        torch.testing.assert_close(pred.pred_score, prob)
        assert pred.num_patches == 1 and pred.branch is None
        assert pred.localizer_macs == 0
        assert pred.classifier_macs == pred.full_image_macs == full


# ----------------------------------------------------------------- the cost
def test_macs_per_image_are_independent_flop_analyzer_counts(model, predictions):
    localizer = macs_of(model.localizer, (1, 3, H, W))
    full = macs_of(model.classifier, (1, 3, H, W))
    per_patch = {n: macs_of(model.classifier, (1, 3, RF[n], RF[n]))
                 for n in {p.branch for p in predictions}}
    assert all(v < full for v in per_patch.values())
    for pred in predictions:
        assert pred.localizer_macs == localizer
        assert pred.classifier_macs == pred.num_patches * per_patch[pred.branch]
        assert pred.full_image_macs == full

    metric = METRICS.build(dict(type='PatchCostMetric', unit='M'))
    samples = [p.to_dict() for p in predictions]
    for s, label in zip(samples, (int(predictions[0].pred_label),
                                  (int(predictions[1].pred_label) + 1) % NUM_CLASSES)):
        s['gt_label'] = torch.tensor([label])
    metric.process(None, samples)
    out = metric.evaluate(len(samples))
    cls = np.mean([p.num_patches * per_patch[p.branch] for p in predictions])
    assert out['cost/localizer_mmacs'] == pytest.approx(localizer / 1e6)
    assert out['cost/classifier_mmacs'] == pytest.approx(cls / 1e6)
    assert out['cost/total_mmacs'] == pytest.approx((localizer + cls) / 1e6)
    assert out['cost/full_image_mmacs'] == pytest.approx(full / 1e6)
    assert out['cost/total_to_full'] == pytest.approx((localizer + cls) / full)
    assert out['cost/num_patches'] == pytest.approx(
        np.mean([p.num_patches for p in predictions]))
    branches = [p.branch for p in predictions]
    for name in set(branches):
        group = [i for i, b in enumerate(branches) if b == name]
        assert out[f'cost/{name}_images'] == pytest.approx(len(group) / 2)
        # image 0 is right, image 1 wrong
        assert out[f'cost/{name}_top1'] == pytest.approx(
            100 * np.mean([i == 0 for i in group]))


def test_cost_metric_needs_patch_classifier_predictions():
    metric = METRICS.build(dict(type='PatchCostMetric'))
    with pytest.raises(KeyError, match='PatchClassifier'):
        metric.process(None, [dict(pred_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match='unit'):
        METRICS.build(dict(type='PatchCostMetric', unit='T'))


# ----------------------------------------------------- training, frozen parts
def test_localizer_stays_frozen_while_the_classifier_trains():
    model = build(seed=1)
    model.init_weights()
    model.train()
    assert model.classifier.training and not model.localizer.training
    assert all(not m.training for m in model.localizer.modules())
    assert not any(p.requires_grad for p in model.localizer.parameters())
    before_loc = {k: v.clone() for k, v in model.localizer.state_dict().items()}
    before_cls = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    g = torch.Generator().manual_seed(2)
    data = dict(inputs=[torch.randint(0, 256, (3, 63, 63), generator=g,
                                      dtype=torch.uint8) for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i % NUM_CLASSES)
                              for i in range(4)])
    losses = model.train_step(data, optim)
    assert set(losses) == {'loss'}  # the classifier's own loss
    after_loc = model.localizer.state_dict()
    for key, value in before_loc.items():  # weights and BN statistics
        assert torch.equal(value, after_loc[key]), key
    after_cls = model.classifier.state_dict()
    assert not torch.equal(before_cls['backbone.conv1.weight'],
                           after_cls['backbone.conv1.weight'])
    assert not torch.equal(before_cls['backbone.bn1.running_mean'],
                           after_cls['backbone.bn1.running_mean'])
    # the wrapper's training mode never reaches the localizer
    model.train(True)
    assert not model.localizer.training


# -------------------------------------------------------------- checkpoints
def test_localizer_checkpoint_is_loaded_and_kept(tmp_path):
    source = build(seed=3)
    path = str(tmp_path / 'anchornet.pth')
    torch.save(dict(state_dict=source.localizer.state_dict()), path)
    model = build(seed=4, localizer_checkpoint=path)
    model.init_weights()  # must not re-initialise the localizer
    for key, value in source.localizer.state_dict().items():
        assert torch.equal(value, model.localizer.state_dict()[key]), key

    with pytest.raises(FileNotFoundError, match='localizer_checkpoint.*nothere.pth'):
        build(localizer_checkpoint=str(tmp_path / 'nothere.pth'))
    wrong = str(tmp_path / 'resnet.pth')
    torch.save(dict(state_dict=source.classifier.state_dict()), wrong)
    with pytest.raises(ValueError, match='does not fit the localizer'):
        build(localizer_checkpoint=wrong)


def test_plain_classifier_checkpoint_goes_into_the_classifier(tmp_path):
    other = build(seed=5)
    plain = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=other.classifier.state_dict()), plain)
    target = build(seed=6)
    localizer_before = {k: v.clone() for k, v in target.localizer.state_dict().items()}
    load_checkpoint(target, plain, map_location='cpu')
    for key, value in other.classifier.state_dict().items():
        assert torch.equal(value, target.classifier.state_dict()[key]), key
    for key, value in localizer_before.items():
        assert torch.equal(value, target.localizer.state_dict()[key]), key
    # a whole PatchClassifier checkpoint round-trips, localizer included
    whole = str(tmp_path / 'whole.pth')
    torch.save(dict(state_dict=other.state_dict()), whole)
    load_checkpoint(target, whole, map_location='cpu', strict=True)
    for key, value in other.state_dict().items():
        assert torch.equal(value, target.state_dict()[key]), key
    # a plain checkpoint of another architecture is refused
    bad = dict(CLASSIFIER, head=dict(CLASSIFIER['head'], num_classes=3))
    bad_model = MODELS.build(bad)
    bad_path = str(tmp_path / 'bad.pth')
    state = bad_model.state_dict()
    state['backbone.extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), bad_path)
    with pytest.raises(ValueError, match='does not fit `classifier`'):
        load_checkpoint(target, bad_path, map_location='cpu')


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize('kwargs, error, match', [
    (dict(mode='patches'), ValueError, 'mode must be one of'),
    (dict(max_patches=0), ValueError, 'max_patches'),
    (dict(lsp_setting='slack'), ValueError, "lsp_setting: LSP setting 'slack' is unknown"),
    (dict(lsp_setting=dict(B63=dict(k_max=1, iou_thr=0.5, coverage=0.1))),
     ValueError, r"branch\(es\) \['B95', 'B111'\]"),
    (dict(lsp_setting={n: dict(k_max=0, iou_thr=0.5, coverage=0.1) for n in RF}),
     ValueError, r"lsp_setting: .*branch 'B63': k_max \(K\)"),
    (dict(lsp_setting={n: dict(k_max=2, iou_thr=0.5) for n in RF}),
     ValueError, 'exactly the keys'),
    (dict(localizer=None), ValueError, "mode='localize' needs a localizer"),
    (dict(localizer=CLASSIFIER), TypeError, 'AnchorNet classifier'),
    (dict(localizer='configs/nothere.py'), FileNotFoundError, 'configs/nothere.py'),
    (dict(rescale_cfg=dict(size=3)), ValueError, 'rescale_cfg'),
    (dict(branch='B64'), ValueError, r"branch 'B64' is not a branch of the localizer"),
    (dict(classifier=dict(CLASSIFIER, data_preprocessor=dict(
        type='ClsDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]))),
     ValueError, 'the classifier normalises its input'),
])
def test_bad_arguments_give_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        build(**kwargs)


def test_padded_batch_is_refused(model, inputs):
    samples = [DataSample(metainfo=dict(img_shape=(H, W), img_path='a.jpg')),
               DataSample(metainfo=dict(img_shape=(H - 8, W), img_path='b.jpg'))]
    with pytest.raises(ValueError, match=r'b.jpg is 120x160 but the batch is 128x160'):
        model.predict(inputs, samples)


# ------------------------------------------------------------------ configs
DOWNSTREAM_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'anchornet', 'imagenet', 'downstream', '*.py'))
    + glob.glob(osp.join(REPO, 'configs', 'anchornet', 'toy', 'downstream', '*.py')))


def test_downstream_config_set_is_complete():
    names = {osp.basename(p) for p in DOWNSTREAM_CONFIGS}
    for arch in ('resnet50', 'resnext50-32x4d', 'densenet169'):
        for kind in ('anchornet-lsp', 'anchornet-lsp-ft_8xb32',
                     'anchornet-lsp-table4-localize', 'anchornet-lsp-table4-rescale',
                     'full-image'):
            assert f'{arch}_{kind}_in1k.py' in names
    for kind in ('toy-clutter_full', 'anchornet-lsp_toy-clutter',
                 'anchornet-lsp-ft_toy-clutter',
                 'anchornet-lsp-table4-localize_toy-clutter',
                 'anchornet-lsp-table4-rescale_toy-clutter'):
        assert f'resnet18-w16_{kind}.py' in names


@pytest.mark.parametrize('path', DOWNSTREAM_CONFIGS, ids=osp.basename)
def test_downstream_configs_read_and_say_what_they_do(path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    model = cfg.model
    assert cfg.default_scope == 'mmpretrain'
    assert model.type == 'PatchClassifier'
    evaluators = [e.type for e in cfg.test_evaluator]
    assert evaluators == ['Accuracy', 'PatchCostMetric']
    assert tuple(cfg.test_evaluator[0].topk) == (1, 5)
    if 'full' in name:
        assert model.mode == 'full' and model.localizer is None
    elif 'table4-rescale' in name:
        assert model.mode == 'rescale' and model.max_patches == 1
    elif 'table4-localize' in name:
        assert model.mode == 'localize' and model.max_patches == 1
    else:
        assert model.mode == 'localize' and model.max_patches is None
        assert model.lsp_setting == 'downstream'
        assert osp.isfile(osp.join(REPO, model.localizer))
    if 'table4' in name:
        # Table 4: "the same networks without any extra trainings", i.e. the
        # full-image classifier (its checkpoint), not the patch fine-tuned one
        if 'in1k' in name:
            arch = name.split('_')[0]
            ft = Config.fromfile(osp.join(osp.dirname(path),
                                          f'{arch}_anchornet-lsp-ft_8xb32_in1k.py'))
            assert cfg.load_from == ft.model.classifier.init_cfg.checkpoint
        else:
            full = Config.fromfile(osp.join(osp.dirname(path),
                                            'resnet18-w16_anchornet-lsp-ft_toy-clutter.py'))
            assert cfg.load_from == full.pretrained  # what fine-tuning starts from
    if '-ft' in name:
        assert cfg.train_dataloader.dataset.type == 'LSPPatchDataset'
        assert cfg.train_dataloader.batch_sampler.type == 'PatchSizeBatchSampler'
        assert [t.type for t in cfg.train_dataloader.dataset.pipeline][-3:] == \
            ['CropPatch', 'RandomFlip', 'PackInputs']
        init = model.classifier.init_cfg
        assert init.type == 'Pretrained'
        if 'in1k' in name:  # mmpretrain's ImageNet checkpoints
            assert init.checkpoint.startswith('https://download.openmmlab.com/')
        assert cfg.train_cfg.max_epochs > 0


@pytest.mark.parametrize('arch, backbone', [
    ('resnet50', 'ResNet'), ('resnext50-32x4d', 'ResNeXt'),
    ('densenet169', 'DenseNet')])
def test_imagenet_patch_configs_build(arch, backbone):
    """The paper-scale PatchClassifier builds from its config (checkpoint and
    pretrained init overridden: nothing can be downloaded here)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'anchornet', 'imagenet',
                                   'downstream',
                                   f'{arch}_anchornet-lsp-ft_8xb32_in1k.py'))
    init_default_scope('mmpretrain')
    model_cfg = cfg.model.to_dict()
    model_cfg['localizer_checkpoint'] = None
    model_cfg['classifier']['init_cfg'] = None
    model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    model = MODELS.build(model_cfg)
    assert isinstance(model, PatchClassifier)
    assert type(model.classifier.backbone).__name__ == backbone
    assert model.classifier.head.num_classes == 1000
    assert model.localizer.head.num_classes == 1000
    assert model.lsp_setting == {n: dict(v) for n, v in lsp.DOWNSTREAM.items()}
    assert {n: g.rf for n, g in model.geometry((224, 224)).items()} == RF


def test_toy_configs_build():
    init_default_scope('mmpretrain')
    for name in ('resnet18-w16_anchornet-lsp-ft_toy-clutter.py',
                 'resnet18-w16_anchornet-lsp-table4-rescale_toy-clutter.py',
                 'resnet18-w16_toy-clutter_full.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'anchornet', 'toy',
                                       'downstream', name))
        model_cfg = cfg.model.to_dict()
        model_cfg['localizer_checkpoint'] = None
        model_cfg['classifier']['init_cfg'] = None
        model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
        model = MODELS.build(model_cfg)
        assert model.classifier.head.num_classes == 6
        if model.localizer is not None:
            assert model.localizer.head.num_classes == 6
            assert model.localizer.backbone.widen_factor == 0.25


# ------------------------------------------------------- the benchmark tool
def test_benchmark_tool_rows_match_the_models(tmp_path):
    """tools/analysis_tools/benchmark_patch_pipeline.py on the toy configs
    (random weights, the first 3 images of a 6-image toy clutter set): the
    MACs it reports are the models' FlopAnalyzer counts, the times are
    positive and add up."""
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
    import benchmark_patch_pipeline as bench
    root = str(tmp_path / 'clutter') + '/'
    options = ['test_dataloader.dataset.data_root=' + root,
               'test_dataloader.dataset.generate.num_train=6',
               'test_dataloader.dataset.generate.num_val=6',
               'test_dataloader.dataset.generate.num_holdout=0',
               'model.localizer_checkpoint=None']
    toy = osp.join(REPO, 'configs', 'anchornet', 'toy', 'downstream')
    out = str(tmp_path / 'table.json')
    torch.manual_seed(0)  # the patch model's random weights, as below
    rows = bench.main([osp.join(toy, 'resnet18-w16_anchornet-lsp_toy-clutter.py'),
                       'none',
                       osp.join(toy, 'resnet18-w16_toy-clutter_full.py'), 'none',
                       '--num-images', '3', '--warmup', '1', '--out', out,
                       '--no-optimize', '--cfg-options'] + options)
    patch, full = rows
    assert (patch['mode'], full['mode'], patch['images']) == ('localize', 'full', 3)
    init_default_scope('mmpretrain')
    classifier = MODELS.build(Config.fromfile(osp.join(
        REPO, 'configs', '_base_', 'models', 'resnet18-w16_toy-clutter_cls.py')).model)
    localizer = MODELS.build(dict(LOCALIZER, head=dict(LOCALIZER['head'],
                                                       num_classes=6)))
    full_macs = macs_of(classifier, (1, 3, 224, 224))
    assert full['total_gmacs'] == pytest.approx(full_macs / 1e9)
    assert full['anchornet_gmacs'] == 0 and full['patches'] == 1
    assert patch['anchornet_gmacs'] == pytest.approx(
        macs_of(localizer, (1, 3, 224, 224)) / 1e9)
    assert patch['total_gmacs'] == pytest.approx(patch['anchornet_gmacs']
                                                 + patch['classifier_gmacs'])
    assert patch['macs_ratio'] == pytest.approx(patch['total_gmacs']
                                                / full['total_gmacs'])
    for row in rows:
        assert row['classifier_ms'] > 0 and row['total_ms'] >= row['classifier_ms']
    with open(out) as f:
        assert len(json.load(f)['rows']) == 2
    # optimised (BN folded, unused test work skipped): the same predictions
    torch.manual_seed(0)
    fast = bench.main([osp.join(toy, 'resnet18-w16_anchornet-lsp_toy-clutter.py'),
                       'none', '--num-images', '3', '--warmup', '0', '--compile', 'none',
                       '--cfg-options'] + options)[0]
    assert (fast['top1'], fast['patches']) == (patch['top1'], patch['patches'])
    assert fast['classifier_gmacs'] == pytest.approx(patch['classifier_gmacs'])
    assert fast['anchornet_gmacs'] < patch['anchornet_gmacs']  # attention skipped
