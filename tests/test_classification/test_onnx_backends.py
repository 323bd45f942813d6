"""ONNX export (AnchorNet's test path, the downstream classifiers) and the
ONNX Runtime / OpenVINO backends of PatchClassifier: the same outputs as
PyTorch (1e-4), everything but the classifier's forward unchanged, and one
clear error for each bad input."""
import copy
import glob
import importlib
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmfsod.classification.models.utils import inference_backends as ib
from mmfsod.classification.models.utils import optimize_for_inference
from mmfsod.classification.models.utils.onnx_export import (
    AnchorNetTestPath, ClassifierLogits, export_onnx, read_sidecar)

from test_patch_classifier import CLASSIFIER, H, LOCALIZER, NUM_CLASSES, PREPROCESSOR, W
from test_patch_classifier import build as _build

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
EXTRA = "the deploy extra is not installed: pip install -e '.[deploy]'"
needs_ort = pytest.mark.skipif(not ib.backend_available('onnxruntime'),
                               reason=f'onnxruntime missing ({EXTRA})')
# find_spec, not an import: OpenVINO is loaded only in the own_process tests' children
OPENVINO = importlib.util.find_spec('openvino') is not None
needs_ov = pytest.mark.skipif(not OPENVINO,
                              reason=f'openvino missing ({EXTRA})')
ENGINES = [pytest.param('onnxruntime', marks=needs_ort),
           # own_process: OpenVINO in the suite's process crashed later tests (tests/conftest.py)
           pytest.param('openvino', marks=[needs_ov, pytest.mark.own_process])]


def randomize_bn(module, seed):
    """Random BN statistics and affine parameters: a fold or a dropped BN
    would show in the outputs."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return module


def build(seed=0, **kwargs):
    """test_patch_classifier's tiny PatchClassifier, random BN, eval mode."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = _build(seed, **kwargs)
    randomize_bn(model.classifier, seed + 1)
    return model.eval()


@pytest.fixture(scope='module')
def inputs():
    g = torch.Generator().manual_seed(7)
    return torch.randn(3, 3, H, W, generator=g)  # (B, 3, H, W), normalised


def predict(model, x):
    with torch.no_grad():
        return model.predict(x)


def load_tool():
    path = osp.join(REPO, 'tools', 'deployment', 'export_onnx.py')
    spec = importlib.util.spec_from_file_location('export_onnx_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------- export
@pytest.mark.parametrize('backend', ENGINES)
def test_anchornet_test_path_exports_with_dynamic_batch_and_size(tmp_path, backend):
    """The cut-attention test path: the branch logits equal the localizer's
    test logits, and the heatmaps made from the exported features equal
    predict's, for two batch sizes and two input sizes (one not square)."""
    localizer = build().localizer
    randomize_bn(localizer, 5)
    module = AnchorNetTestPath(localizer)
    out = str(tmp_path / 'anchornet.onnx')
    meta = export_onnx(module, out, 'anchornet', NUM_CLASSES, 111, 224)
    assert meta['outputs'] == ['logits_B63', 'logits_B95', 'logits_B111',
                               'feat_B63', 'feat_B95', 'feat_B111']
    assert read_sidecar(out)['kind'] == 'anchornet'
    engine = ib.build_engine(backend, out, num_threads=1)
    assert ib.max_abs_diff(module, engine, [(H, W), (224, 224)]) < 1e-4
    x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(2))
    got = engine(x)
    with torch.no_grad():
        logits = localizer(x, mode='tensor')  # the test logits, one per branch
        decision = localizer.predict(x)[0]
    for a, b in zip(logits, got[:3]):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    label = torch.tensor([int(decision.pred_label)])
    feats = tuple((f, None) for f in got[3:])
    maps = localizer.head.class_maps(feats, label)
    for name in ('B63', 'B95', 'B111'):
        torch.testing.assert_close(maps[name][0], decision.heatmaps[name],
                                   atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match=r'anchornet.onnx: input size 100x100 is '
                                         r'outside the exported range 111\.\.224'):
        engine(torch.zeros(1, 3, 100, 100))


def downstream_classifiers():
    """One entry per distinct classifier of the downstream configs."""
    seen = {}
    for path in sorted(glob.glob(osp.join(REPO, 'configs', 'anchornet', '*',
                                          'downstream', '*.py'))):
        cfg = Config.fromfile(path)
        if cfg.model.get('type') != 'PatchClassifier':
            continue
        classifier = cfg.model.classifier.to_dict()
        classifier.pop('init_cfg', None)  # the weights do not change the graph
        classifier.get('backbone', {}).pop('init_cfg', None)
        key = json.dumps(classifier, sort_keys=True, default=str)
        seen.setdefault(key, osp.relpath(path, REPO))
    return sorted(seen.values())


@needs_ort
@pytest.mark.parametrize('config', downstream_classifiers())
def test_every_downstream_classifier_exports(tmp_path, config):
    tool = load_tool()
    model, _ = tool.build_model(osp.join(REPO, config), 'none',
                                dict(model=dict(localizer=None, mode='full')))
    module, kind, num_classes, lo, hi = tool.graph_of(model, None, 224, 63, 224)
    assert (kind, lo, hi) == ('classifier', 63, 224)
    randomize_bn(module, 3)
    out = str(tmp_path / 'classifier.onnx')
    export_onnx(module, out, kind, num_classes, lo, hi)
    engine = ib.build_engine('onnxruntime', out, num_threads=1)
    assert engine.output_shapes[0][-1] == num_classes
    assert ib.max_abs_diff(module, engine, [63, 95], batch=1) < 1e-4


def test_four_distinct_downstream_classifiers():
    assert len(downstream_classifiers()) == 4  # ResNet-50, ResNeXt-50, DenseNet-169, toy


class TinyClassifier(torch.nn.Module):
    """conv - ReLU - global mean - linear, with mmpretrain's forward signature."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.fc = torch.nn.Linear(8, NUM_CLASSES)

    def forward(self, x, mode='tensor'):
        return self.fc(self.conv(x).relu().mean(dim=(2, 3)))  # (N, K)


@needs_ort
def test_dynamo_exporter(tmp_path):
    torch.manual_seed(0)
    module = ClassifierLogits(TinyClassifier())
    out = str(tmp_path / 'classifier.onnx')
    export_onnx(module, out, 'classifier', NUM_CLASSES, 63, 95, exporter='dynamo')
    engine = ib.build_engine('onnxruntime', out, num_threads=1)
    assert ib.max_abs_diff(module, engine, [63, 95]) < 1e-4


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny PatchClassifier whose classifier was trained a few SGD steps on
    random patches, its config file and its checkpoint."""
    root = tmp_path_factory.mktemp('trained')
    model = build(seed=4)
    model.train()
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.SGD(model.classifier.parameters(), lr=0.05, momentum=0.9)
    for _ in range(4):
        x = torch.randn(8, 3, 63, 63, generator=g)
        samples = [DataSample().set_gt_label(int(i)) for i in
                   torch.randint(0, NUM_CLASSES, (8, ), generator=g)]
        loss = sum(model.loss(x, samples).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    ckpt = str(root / 'trained.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    config = str(root / 'patch.py')
    Config(dict(default_scope='mmpretrain', model=dict(
        type='PatchClassifier', localizer=LOCALIZER, classifier=CLASSIFIER,
        data_preprocessor=PREPROCESSOR))).dump(config)
    return model, config, ckpt


@needs_ort
def test_export_tool_on_a_trained_checkpoint(trained, tmp_path, inputs, capsys):
    model, config, ckpt = trained
    out = str(tmp_path / 'classifier.onnx')
    load_tool().main([config, ckpt, '--out', out, '--input-size', str(H)])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f'exported classifier to {out}: {NUM_CLASSES} classes, '
                           f'input 63..{H} px, opset 17 (torchscript), max |onnx - '
                           'pytorch| ')
    meta = read_sidecar(out)
    assert meta['max_abs_diff'] < 1e-4 and meta['checked_sizes'] == [63, 95, H]
    assert meta['input']['mean'] == pytest.approx(PREPROCESSOR['mean'])
    # its localizer: AnchorNet's test path, checked at 111, 135 and 160 px
    anchor = str(tmp_path / 'anchornet.onnx')
    load_tool().main([config, ckpt, '--out', anchor, '--part', 'anchornet',
                      '--max-size', str(W), '--backend', 'openvino'
                      if OPENVINO else 'onnxruntime'])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
        f'exported anchornet to {anchor}: {NUM_CLASSES} classes, input 111..{W} px')
    assert read_sidecar(anchor)['checked_sizes'] == [111, 135, W]
    ref = predict(model, inputs)
    # the exported classifier file under test; AnchorNet stays in PyTorch
    # (in the engine its heatmaps differ by float rounding, which reorders
    # near-tied LSP candidates of this briefly trained localizer with 2
    # threads; AnchorNet in the engine: test_anchornet_backend.py)
    served = build(seed=9, backend='onnxruntime',
                   backend_cfg=dict(onnx_file=out, anchornet_in_engine=False))
    served.load_state_dict(model.state_dict())
    for a, b in zip(ref, predict(served, inputs)):
        torch.testing.assert_close(b.pred_score, a.pred_score, atol=1e-4, rtol=1e-4)
        assert b.patch_boxes.tolist() == a.patch_boxes.tolist()


# ------------------------------------------------------------------ backends
@pytest.mark.parametrize('backend', ENGINES)
@pytest.mark.parametrize('kwargs', [dict(), dict(exit_cfg='between'),
                                    dict(mode='full', localizer=None)])
def test_backend_predictions_equal_pytorch(inputs, backend, kwargs):
    """The classifier's forward (and AnchorNet's, test_anchornet_backend.py)
    change engine: the same patches, exits, MACs and (to 1e-4) scores, with
    the weights exported when first needed."""
    def sharp(model):  # logits x 30: confidences spread over (0.2, 1)
        model.classifier.head.fc.weight.data.mul_(30)
        return model

    if kwargs.get('exit_cfg') == 'between':
        # a threshold between two images' first-patch confidences (far from
        # both): one image stops after its first patch, another goes on
        conf = sorted(float(p.patch_scores[0].max())
                      for p in predict(sharp(build()), inputs))
        gap = int(np.argmax(np.diff(conf)))
        assert conf[gap + 1] - conf[gap] > 1e-2
        kwargs = dict(exit_cfg=dict(thresholds=(conf[gap] + conf[gap + 1]) / 2))
    ref = predict(sharp(build(**kwargs)), inputs)
    model = sharp(build(backend=backend, backend_cfg=dict(num_threads=1), **kwargs))
    predict(model, inputs)  # exports, counts the MACs
    calls = []
    model.classifier.register_forward_pre_hook(lambda m, a: calls.append(1))
    out = predict(model, inputs)
    assert model.backend.active and model.backend._engine.backend == backend
    assert not calls  # the PyTorch classifier did not run
    if 'exit_cfg' in kwargs:  # a non-trivial exit
        assert any(r.exit_stage < r.num_stages - 1 for r in ref)
        assert any(r.exit_stage > 0 for r in ref)
    for a, b in zip(ref, out):
        torch.testing.assert_close(b.pred_score, a.pred_score, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(b.patch_scores, a.patch_scores, atol=1e-4, rtol=1e-4)
        assert int(b.pred_label) == int(a.pred_label)
        assert b.patch_boxes.tolist() == a.patch_boxes.tolist()
        for key in ('num_patches', 'exit_stage', 'localizer_macs', 'classifier_macs',
                    'full_image_macs', 'branch'):
            assert b.metainfo.get(key) == a.metainfo.get(key), key


@needs_ort
def test_backend_follows_the_weights(inputs):
    """Loading other weights after the first prediction re-exports them, and a
    deep copy (optimize_for_inference(inplace=False)) builds its own engine."""
    model = build(backend='onnxruntime', mode='full', localizer=None)
    first = predict(model, inputs)[0].pred_score
    other = build(seed=3, mode='full', localizer=None)
    model.load_state_dict(other.state_dict())
    torch.testing.assert_close(predict(model, inputs)[0].pred_score,
                               predict(other, inputs)[0].pred_score, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(first, predict(other, inputs)[0].pred_score, atol=1e-3)
    clone = copy.deepcopy(model)
    assert clone.backend._engine is None and model.backend._engine is not None
    torch.testing.assert_close(predict(clone, inputs)[0].pred_score,
                               predict(other, inputs)[0].pred_score, atol=1e-4, rtol=1e-4)
    # BN folded and the backbone traced (the benchmark's order: MACs first):
    # the traced backbone's eager original is exported
    optimize_for_inference(clone, compile='jit', example_size=64)
    assert hasattr(clone.classifier.backbone, 'traced')
    torch.testing.assert_close(predict(clone, inputs)[0].pred_score,
                               predict(other, inputs)[0].pred_score, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------- bad input
def test_missing_engine_names_the_extra(monkeypatch):
    real = importlib.import_module

    def no_engine(name, *args):
        if name in ('onnxruntime', 'openvino'):
            raise ImportError(f"No module named '{name}'")
        return real(name, *args)

    monkeypatch.setattr(ib.importlib, 'import_module', no_engine)
    for backend in ('onnxruntime', 'openvino'):
        with pytest.raises(ImportError, match=rf"PatchClassifier: backend '{backend}' "
                                              r"needs the 'deploy' extra.*pip install "
                                              r"-e '\.\[deploy\]'"):
            build(backend=backend)
        assert not ib.backend_available(backend)
    build(backend='pytorch')  # needs nothing


def test_bad_backend_settings():
    with pytest.raises(ValueError, match=r"PatchClassifier: backend must be one of "
                                         r"\('pytorch', 'onnxruntime', 'openvino'\), "
                                         "got 'tensorrt'"):
        build(backend='tensorrt')
    with pytest.raises(ValueError, match=r"backend_cfg: unknown key\(s\) \['file'\]"):
        build(backend_cfg=dict(file='x.onnx'))
    with pytest.raises(FileNotFoundError, match="backend_cfg.onnx_file 'nowhere.onnx' "
                                                'does not exist'):
        build(backend='pytorch', backend_cfg=dict(onnx_file='nowhere.onnx'))


@needs_ort
def test_onnx_file_that_does_not_fit_the_config(tmp_path, inputs):
    six = build()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        cfg = copy.deepcopy(CLASSIFIER)
        cfg['head']['num_classes'] = 6
        six_classes = MODELS.build(cfg).eval()
    other = str(tmp_path / 'six.onnx')
    export_onnx(ClassifierLogits(six_classes), other, 'classifier', 6, 63, 111)
    with pytest.raises(ValueError, match=r'six.onnx: exported with 6 classes, the config '
                                         r'has 5'):
        build(backend='onnxruntime', backend_cfg=dict(onnx_file=other))
    # without a sidecar the graph's own output size is checked
    nosidecar = str(tmp_path / 'bare.onnx')
    export_onnx(ClassifierLogits(six_classes), nosidecar, 'classifier', 6, 63, 111)
    os.remove(str(tmp_path / 'bare.json'))
    model = build(backend='onnxruntime', backend_cfg=dict(onnx_file=nosidecar))
    with pytest.raises(ValueError, match=r'bare.onnx: the graph outputs 6 classes, '
                                         r'the config has 5'):
        predict(model, inputs)
    # normalisation and kind
    wrong = str(tmp_path / 'wrong.onnx')
    export_onnx(ClassifierLogits(six.classifier), wrong, 'classifier', NUM_CLASSES, 63,
                111, meta=dict(input=dict(mean=[0, 0, 0], std=[1, 1, 1])))
    with pytest.raises(ValueError, match=r'wrong.onnx: exported for input normalised '
                                         r'with mean \[0, 0, 0\]'):
        build(backend='onnxruntime', backend_cfg=dict(onnx_file=wrong))
    anchor = str(tmp_path / 'anchor.onnx')
    export_onnx(AnchorNetTestPath(six.localizer), anchor, 'anchornet', NUM_CLASSES,
                111, 128)
    with pytest.raises(ValueError, match=r"anchor.onnx: a 'anchornet' graph, but the "
                                         r"config needs a 'classifier' graph"):
        build(backend='onnxruntime', backend_cfg=dict(onnx_file=anchor))
    # a patch size outside the exported range
    narrow = str(tmp_path / 'narrow.onnx')
    export_onnx(ClassifierLogits(six.classifier), narrow, 'classifier', NUM_CLASSES,
                95, 111)
    model = build(backend='onnxruntime', backend_cfg=dict(onnx_file=narrow),
                  branch='B63')
    with pytest.raises(ValueError, match=r'narrow.onnx: input size 63x63 is outside '
                                         r'the exported range 95\.\.111 px'):
        predict(model, inputs)


def test_sizes_of_the_export_range_are_checked(tmp_path):
    module = ClassifierLogits(build().classifier)
    with pytest.raises(ValueError, match='need 1 <= min_size <= max_size'):
        export_onnx(module, str(tmp_path / 'a.onnx'), 'classifier', 5, 95, 63)
    with pytest.raises(ValueError, match='must end with .onnx'):
        export_onnx(module, str(tmp_path / 'a.pt'), 'classifier', 5, 63, 95)
    assert not glob.glob(str(tmp_path / '*'))  # nothing half-written
