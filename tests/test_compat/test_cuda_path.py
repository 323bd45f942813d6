"""The CUDA path without a GPU: the models' modules run forward on a fake CUDA
device (``FakeTensorMode``: shapes, dtypes and devices, no data; a CPU tensor
mixed into a CUDA computation raises) and backward on the ``meta`` device
(the autograd engine needs a real CUDA context for fake CUDA tensors; a
``meta`` computation that meets a CPU tensor raises just the same).

What static-shape FakeTensorMode cannot reach is left out: data-dependent
steps (NMS, target assignment and sampling, ``.item()``/``.tolist()``,
numpy). ``test_*_can_fail`` show that a CPU tensor injected into a forward
makes these checks fail.
"""
import warnings

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorDeviceMismatchError, FakeTensorMode

from mmfsod.classification.models.heads import anchornet_head
from mmfsod.detection.models.layers import graph_adjacency, graph_correspondence
from mmfsod.detection.models.layers.graph_correspondence import GraphCorrespondence

from conftest import REPO

TOY_GCN = f'{REPO}/configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py'
C = 16  # channels of the small detection heads


def fake_cuda(module: nn.Module, mode: FakeTensorMode) -> nn.Module:
    """``module`` with its parameters and buffers as fake CUDA tensors of
    ``mode`` (``module.to('cuda')`` would swap tensors, which fake tensors
    refuse). Call inside ``mode``."""
    for mod in module.modules():
        for name, param in list(mod._parameters.items()):
            if param is not None:
                mod._parameters[name] = nn.Parameter(
                    mode.from_tensor(param).to('cuda'), requires_grad=param.requires_grad)
        for name, buf in list(mod._buffers.items()):
            if buf is not None:
                mod._buffers[name] = mode.from_tensor(buf).to('cuda')
    return module


def is_cuda(*tensors) -> bool:
    return all(t.device.type == 'cuda' for t in tensors)


@pytest.fixture(autouse=True)
def seed_and_quiet():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        # GraphCorrespondence compares data pointers of views (0 for fake tensors)
        warnings.filterwarnings('ignore', message='Accessing the data pointer of FakeTensor')
        yield


# -------------------------------------------------------------------- graph
def graph(chunk_size=None):
    return GraphCorrespondence(C, 8, 6, temperature=0.5, learnable_temperature=True,
                               chunk_size=chunk_size)


@pytest.mark.parametrize('chunk_size', [None, 5])
def test_graph_on_fake_cuda(chunk_size, monkeypatch):
    module = graph(chunk_size)
    with FakeTensorMode(allow_non_fake_inputs=False) as mode:
        fake_cuda(module, mode)
        support = torch.randn(3, C, 2, 3, device='cuda')
        query = torch.randn(3, C, 4, 5, device='cuda')
        out = module(support, query)  # every pair its own query
        assert is_cuda(out) and tuple(out.shape) == (3, 6, 4, 5)
        shared = query[:1].expand(3, -1, -1, -1)  # one query, three classes
        out = module(support, shared, [0, 0, 0])
        assert is_cuda(out) and tuple(out.shape) == (3, 6, 4, 5)
        # groups out of pair order: the inverse permutation is on the device
        # (equal query maps are compared with data, which fake tensors lack)
        monkeypatch.setattr(graph_correspondence, '_same_map', lambda a, b: True)
        out = module(support, query, [0, 1, 0])
        assert is_cuda(out) and tuple(out.shape) == (3, 6, 4, 5)
        adj = graph_adjacency.gaussian_adjacency(torch.randn(2, 7, C, device='cuda'), 0.5)
        norm = graph_adjacency.normalized_adjacency(adj)
        assert is_cuda(adj, norm) and tuple(norm.shape) == (2, 7, 7)


@pytest.mark.parametrize('chunk_size', [None, 5])
def test_graph_backward_on_meta(chunk_size):
    """Backward (with the chunked path's activation checkpointing)."""
    module = graph(chunk_size).to('meta')
    support = torch.randn(2, C, 2, 3, device='meta', requires_grad=True)
    query = torch.randn(1, C, 4, 5, device='meta', requires_grad=True)
    module(support, query.expand(2, -1, -1, -1), [0, 0]).sum().backward()
    assert support.grad.device.type == query.grad.device.type == 'meta'
    assert all(p.grad is not None and p.grad.device.type == 'meta'
               for p in module.parameters())


def test_graph_check_can_fail(monkeypatch):
    """A CPU tensor in the graph's forward is caught by the test above."""
    real = graph_correspondence.node_stats

    def cpu_centre(nodes, centre):
        return real(nodes, centre + torch.zeros(nodes.shape[-1]))  # on the CPU

    monkeypatch.setattr(graph_correspondence, 'node_stats', cpu_centre)
    with pytest.raises(FakeTensorDeviceMismatchError, match='cuda:0 and cpu'):
        test_graph_on_fake_cuda(None, monkeypatch)
    with pytest.raises(RuntimeError, match='device'):
        test_graph_backward_on_meta(None)


def build(registry, scope, cfg):
    """Build in ``scope`` and leave the default scope as it was (a scope
    left at mmpretrain breaks later tests that build mmdet modules)."""
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


# -------------------------------------------------------------- lcRPN head
@pytest.fixture(scope='module')
def gcn_cfg():
    return Config.fromfile(TOY_GCN).model


def lcrpn(gcn_cfg, rpn_type):
    cfg = gcn_cfg.rpn_head.copy()
    cfg.update(in_channels=C, feat_channels=8, rpn_type=rpn_type,
               graph=dict(hidden_channels=8, chunk_size=7))
    return build(DET_MODELS, 'mmdet', cfg)


@pytest.mark.parametrize('rpn_type', ['lcrpn', 'lcrpn_coupled', 'global_kernel'])
def test_lcrpn_head_on_fake_cuda(gcn_cfg, rpn_type):
    head = lcrpn(gcn_cfg, rpn_type)
    num_anchors = head.num_base_priors
    with FakeTensorMode(allow_non_fake_inputs=False) as mode:
        fake_cuda(head, mode)
        # the anchor generator keeps its base anchors as CPU attributes and
        # moves them to the asked device (grid_priors(device=...))
        gen = head.prior_generator
        gen.base_anchors = [mode.from_tensor(a) for a in gen.base_anchors]
        query = torch.randn(1, C, 6, 7, device='cuda').expand(3, -1, -1, -1)
        support = torch.randn(3, C, 3, 3, device='cuda')
        (cls,), (deltas,) = head(query, support, [0, 0, 0])
        assert is_cuda(cls, deltas)
        assert tuple(cls.shape) == (3, num_anchors, 6, 7)
        assert tuple(deltas.shape) == (3, 4 * num_anchors, 6, 7)
        anchors = gen.grid_priors([(6, 7)], device='cuda')[0]  # (H * W * A, 4)
        flat = deltas[0].permute(1, 2, 0).reshape(-1, 4)
        boxes = head.bbox_coder.decode(anchors, flat, max_shape=(96, 112))
        assert is_cuda(anchors, boxes) and tuple(boxes.shape) == (6 * 7 * num_anchors, 4)


def test_lcrpn_head_backward_on_meta(gcn_cfg):
    head = lcrpn(gcn_cfg, 'lcrpn').to('meta')
    query = torch.randn(2, C, 6, 7, device='meta', requires_grad=True)
    (cls,), (deltas,) = head(query, torch.randn(2, C, 3, 3, device='meta'))
    (cls.sum() + deltas.sum()).backward()
    assert query.grad.device.type == 'meta'
    assert all(p.grad.device.type == 'meta' for p in head.parameters())


# ---------------------------------------------------- attentive RoI head
def roi_head(gcn_cfg, reg_type='attentive'):
    cfg = gcn_cfg.roi_head.copy()
    # torchvision's roi_align: a registered op with fake/meta kernels (mmcv's
    # compiled one is opaque to FakeTensorMode); the same numbers on a GPU
    cfg.bbox_roi_extractor.update(out_channels=C, roi_layer=dict(
        type='RoIAlign', output_size=7, sampling_ratio=2, use_torchvision=True))
    cfg.bbox_head.update(in_channels=C, embed_channels=8, reg_convs=(8, ),
                         reg_type=reg_type)
    return build(DET_MODELS, 'mmdet', cfg)


def roi_inputs(device):
    feats = (torch.randn(2, C, 10, 12, device=device), )  # 2 query maps, stride 16
    support = torch.randn(3, C, 5, 5, device=device)
    support_boxes = torch.tensor([[0., 0., 60., 60.], [10., 10., 70., 70.],
                                  [0., 5., 40., 80.]], device=device)
    rois = torch.tensor([[0, 0., 0., 50., 50.], [1, 10., 10., 90., 90.],
                         [2, 5., 5., 30., 30.]], device=device)  # pair, box
    return feats, support, support_boxes, rois


@pytest.mark.parametrize('reg_type', ['attentive', 'stacked'])
def test_attentive_roi_head_on_fake_cuda(gcn_cfg, reg_type):
    head = roi_head(gcn_cfg, reg_type)
    with FakeTensorMode(allow_non_fake_inputs=False) as mode:
        fake_cuda(head, mode)
        feats, support, support_boxes, rois = roi_inputs('cuda')
        pair_support = head.support_roi_feats(support, support_boxes)  # (3, C, 7, 7)
        assert is_cuda(pair_support) and tuple(pair_support.shape) == (3, C, 7, 7)
        per_pair = (feats[0][[0, 1, 1]], )  # one map per pair
        out = head._bbox_forward(per_pair, rois, pair_support)
        assert is_cuda(out['cls_score'], out['bbox_pred'])
        assert tuple(out['cls_score'].shape) == (3, 2)
        # one map per image, pairs -> images given on the CPU (as a list is)
        out = head._bbox_forward(feats, rois, pair_support, torch.tensor([0, 1, 1]))
        assert is_cuda(out['cls_score'], out['bbox_pred'])
        assert tuple(out['bbox_pred'].shape) == (3, 4)
        # the head alone, one support row broadcast to every RoI
        cls, deltas = head.bbox_head(torch.randn(4, C, 7, 7, device='cuda'), pair_support[:1])
        assert is_cuda(cls, deltas) and tuple(cls.shape) == (4, 2)


def test_attentive_roi_head_backward_on_meta(gcn_cfg):
    head = roi_head(gcn_cfg).to('meta')
    feats, support, support_boxes, rois = roi_inputs('meta')
    feats[0].requires_grad_()
    pair_support = head.support_roi_feats(support, support_boxes)
    out = head._bbox_forward(feats, rois, pair_support, torch.tensor([0, 1, 1]))
    (out['cls_score'].sum() + out['bbox_pred'].sum()).backward()
    assert feats[0].grad.device.type == 'meta'
    assert all(p.grad.device.type == 'meta' for p in head.parameters())


def test_roi_head_check_can_fail(gcn_cfg, monkeypatch):
    """A CPU tensor in the bbox head's forward is caught."""
    from mmfsod.detection.models.roi_heads.bbox_heads import attentive_bbox_head
    real = attentive_bbox_head.F.relu
    monkeypatch.setattr(attentive_bbox_head.F, 'relu',
                        lambda x: real(x) + torch.zeros(x.shape[-1]))
    with pytest.raises(FakeTensorDeviceMismatchError, match='cuda:0 and cpu'):
        test_attentive_roi_head_on_fake_cuda(gcn_cfg, 'attentive')


# --------------------------------------------------- AnchorNet and its head
NAMES = ('B63', 'B95', 'B111')


def anchornet(**head_kw):
    return build(CLS_MODELS, 'mmpretrain', dict(
        type='ImageClassifier', backbone=dict(type='AnchorNet', widen_factor=0.25),
        neck=None, head=dict(type='AnchorNetHead', num_classes=5, in_channels=24,
                             **head_kw)))


@pytest.mark.parametrize('head_kw', [{}, dict(test_with_attention=True),
                                     dict(pooled_test_logits=True)])
def test_anchornet_on_fake_cuda(head_kw):
    model = anchornet(**head_kw)
    with FakeTensorMode(allow_non_fake_inputs=False) as mode:
        fake_cuda(model, mode)
        images = torch.randn(2, 3, 128, 128, device='cuda')
        # training: every branch's logits, attention and auxiliary losses
        model.train()
        samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(4)]
        for sample in samples:  # as the data preprocessor moves them
            sample.gt_label = sample.gt_label.to('cuda')
        losses = model.loss(images, samples)
        assert set(losses) == {f'loss{a}_{n}' for n in NAMES for a in ('', '_att')}
        assert is_cuda(*losses.values())
        # test: logits (mode='tensor'), the decision's tensor parts
        model.eval()
        logits = model(images, mode='tensor')
        assert is_cuda(*logits) and all(tuple(z.shape) == (2, 5) for z in logits)
        feats = model.extract_feat(images)
        outs = model.head._test_outputs(feats)
        labels = torch.tensor([3, 0], device='cuda')
        maps = model.head.class_maps(feats, labels)
        heatmaps = model.head._heatmaps(feats, outs, labels)  # what predict records
        for name, (feat, _) in zip(NAMES, feats):
            assert is_cuda(outs[name]['logits'], outs[name]['attention'], maps[name],
                           heatmaps[name])
            assert heatmaps[name].shape == maps[name].shape == (2, *feat.shape[-2:])


def test_anchornet_backward_on_meta():
    model = anchornet().to('meta').train()
    images = torch.randn(2, 3, 128, 128, device='meta', requires_grad=True)
    samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(4)]
    for sample in samples:
        sample.gt_label = sample.gt_label.to('meta')
    sum(model.loss(images, samples).values()).backward()
    assert images.grad.device.type == 'meta'
    assert all(p.grad.device.type == 'meta' for p in model.parameters() if p.requires_grad)


def test_anchornet_check_can_fail(monkeypatch):
    """A CPU tensor in the attention branch (eqs. 1-5) is caught."""
    real = anchornet_head.attention_maps

    def cpu_attention(x, conv):
        g, c, s = real(x, conv)
        return g, c + torch.zeros(c.shape[-1]), s

    monkeypatch.setattr(anchornet_head, 'attention_maps', cpu_attention)
    with pytest.raises(FakeTensorDeviceMismatchError, match='cuda:0 and cpu'):
        test_anchornet_on_fake_cuda({})
