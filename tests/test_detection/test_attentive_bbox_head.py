"""Tests of AttentiveBBoxHead: shapes, gradients, the matching/attention maths,
BBoxHead's targets and losses, a short training run, argument checks."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.models.task_modules.samplers import PseudoSampler
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmfsod.detection.models.roi_heads import AttentiveBBoxHead

C, S, M = 8, 5, 6  # in_channels, roi_feat_size, RoIs
SWITCHES = [(g, l, r) for (g, l), r in itertools.product(
    [(True, False), (False, True), (True, True)], ['attentive', 'stacked'])]


def make_head(with_global=True, with_local=True, reg_type='attentive', **kwargs):
    cfg = dict(type='AttentiveBBoxHead', in_channels=C, roi_feat_size=S,
               with_global=with_global, with_local=with_local, reg_type=reg_type,
               embed_channels=16, reg_convs=(12, 10))
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def test_registered_and_exported():
    assert MODELS.get('AttentiveBBoxHead') is AttentiveBBoxHead


def test_init_weights():
    head = make_head()
    head.init_weights()
    assert head.fc_cls.weight.std() < 0.05 and head.fc_reg.weight.std() < 0.005
    assert head.fc_cls.bias.eq(0).all() and head.global_embed.bias.eq(0).all()
    assert head.reg_convs[0].bias.eq(0).all()


@pytest.mark.parametrize('with_global,with_local,reg_type', SWITCHES)
def test_output_shapes(with_global, with_local, reg_type):
    head = make_head(with_global, with_local, reg_type)
    assert hasattr(head, 'global_embed') == with_global
    assert hasattr(head, 'local_embed') == with_local
    assert head.fc_cls.in_features == 16 * (with_global + with_local)
    assert head.reg_convs[0].in_channels == (C if reg_type == 'attentive' else 2 * C)
    q, s = torch.randn(M, C, S, S), torch.randn(M, C, S, S)
    cls_score, bbox_pred = head(q, s)
    assert cls_score.shape == (M, 2) and bbox_pred.shape == (M, 4)
    # a single support row broadcasts to every RoI
    cls_b, bbox_b = head(q, s[:1])
    cls_r, bbox_r = head(q, s[:1].expand(M, -1, -1, -1))
    assert cls_b.shape == (M, 2) and bbox_b.shape == (M, 4)
    torch.testing.assert_close(cls_b, cls_r)
    torch.testing.assert_close(bbox_b, bbox_r)
    # no RoIs
    cls_e, bbox_e = head(q[:0], s[:1])
    assert cls_e.shape == (0, 2) and bbox_e.shape == (0, 4)


@pytest.mark.parametrize('with_global,with_local,reg_type', SWITCHES)
def test_gradients_reach_inputs_and_parameters(with_global, with_local, reg_type):
    head = make_head(with_global, with_local, reg_type)
    q = torch.randn(M, C, S, S, requires_grad=True)
    s = torch.randn(M, C, S, S, requires_grad=True)
    cls_score, bbox_pred = head(q, s)
    (cls_score * torch.randn_like(cls_score)).sum().backward(retain_graph=True)
    # the classifier alone already depends on both RoI features
    assert q.grad.abs().sum() > 0 and s.grad.abs().sum() > 0
    q.grad = s.grad = None
    (bbox_pred * torch.randn_like(bbox_pred)).sum().backward()
    # ... and so does the regressor
    assert q.grad.abs().sum() > 0 and s.grad.abs().sum() > 0
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def _capture_input(module):
    """The input of ``module``'s first call, stored under ``'x'``."""
    store = {}

    def hook(mod, args, out):
        store.setdefault('x', args[0])  # returns None: the output is kept

    module.register_forward_hook(hook)
    return store


def test_matching_vectors():
    head = make_head()
    q, s = torch.randn(M, C, S, S), torch.randn(M, C, S, S)
    g_in, l_in = _capture_input(head.global_embed), _capture_input(head.local_embed)
    cls_in = _capture_input(head.fc_cls)
    cls_score, _ = head(q, s)
    # C_g: [GAP(s), GAP(q)]; C_l: sum_xy s * q, divided by S * S by default
    q_g = torch.cat([s.mean((2, 3)), q.mean((2, 3))], 1)  # (M, 2C), support first
    torch.testing.assert_close(g_in['x'], q_g)
    torch.testing.assert_close(l_in['x'], (s * q).sum((2, 3)) / (S * S))
    summed = make_head(local_pool='sum')
    sum_in = _capture_input(summed.local_embed)
    summed(q, s)
    torch.testing.assert_close(sum_in['x'], (s * q).sum((2, 3)))  # the paper's literal sum
    # classifier: concatenated ReLU embeddings -> one FC == per-branch logits summed
    e_g = F.relu(head.global_embed(g_in['x']))
    e_l = F.relu(head.local_embed(l_in['x']))
    torch.testing.assert_close(cls_in['x'], torch.cat([e_g, e_l], 1))
    w_g, w_l = head.fc_cls.weight.split(16, dim=1)
    torch.testing.assert_close(cls_score, e_g @ w_g.T + e_l @ w_l.T + head.fc_cls.bias)


def test_attentive_regression_equals_independent_computation():
    c, s_, m = 3, 4, 2
    head = MODELS.build(dict(type='AttentiveBBoxHead', in_channels=c, roi_feat_size=s_,
                             embed_channels=4, reg_convs=(c, )))
    q, s = torch.randn(m, c, s_, s_), torch.randn(m, c, s_, s_)
    conv_in = _capture_input(head.reg_convs[0])
    with torch.no_grad():
        # identity 3x3 conv (centre tap), hand-set fc_reg
        head.reg_convs[0].weight.zero_()
        head.reg_convs[0].weight[:, :, 1, 1] = torch.eye(c)
        head.reg_convs[0].bias.zero_()
        head.fc_reg.weight.copy_(torch.arange(4 * c, dtype=torch.float).view(4, c) / 10)
        head.fc_reg.bias.copy_(torch.tensor([1., -1., 0.5, 0.]))
        _, bbox_pred = head(q, s)
    s_vec = s.mean((2, 3))  # (m, c)
    # correlation step: q scaled channel-wise by GAP(s) ...
    torch.testing.assert_close(conv_in['x'], q * s_vec[:, :, None, None])
    # ... which is the 1x1 depthwise convolution with GAP(s) as the kernel
    depthwise = torch.cat([
        F.conv2d(q[i:i + 1], s_vec[i].view(c, 1, 1, 1), groups=c) for i in range(m)])
    torch.testing.assert_close(conv_in['x'], depthwise)
    # identity conv -> ReLU -> mean pool -> FC
    expected = F.relu(depthwise).mean((2, 3)) @ head.fc_reg.weight.T + head.fc_reg.bias
    torch.testing.assert_close(bbox_pred, expected)


def test_stacked_regression_input():
    head = make_head(reg_type='stacked')
    q, s = torch.randn(M, C, S, S), torch.randn(M, C, S, S)
    conv_in = _capture_input(head.reg_convs[0])
    head(q, s)
    torch.testing.assert_close(conv_in['x'], torch.cat([s, q], 1))


def _sampling_result(priors, gt_bboxes):
    gt = InstanceData(bboxes=gt_bboxes,
                      labels=torch.zeros(len(gt_bboxes), dtype=torch.long))
    pred = InstanceData(priors=priors)
    assign = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5).assign(pred, gt)
    return PseudoSampler().sample(assign, pred, gt)


def test_loss_and_target_positive_and_negative_pairs():
    head = make_head(loss_bbox=dict(type='L1Loss', loss_weight=1.0))
    priors = torch.tensor([[10., 10., 50., 50.], [12., 8., 52., 49.],
                           [100., 100., 140., 150.]])
    # positive pair: the pair's class has a box overlapping priors 0 and 1
    pos = _sampling_result(priors, torch.tensor([[11., 10., 50., 51.]]))
    # negative pair: support class absent from the query -> empty ground truth
    neg = _sampling_result(priors.clone(), torch.zeros(0, 4))
    rois = torch.cat([torch.cat([priors.new_full((3, 1), i), p], 1)
                      for i, p in enumerate([pos.priors, neg.priors])])
    cfg = ConfigDict(pos_weight=-1)
    labels, label_w, bbox_t, bbox_w = head.get_targets([pos, neg], cfg, concat=False)
    assert labels[0].tolist() == [0, 0, 1]  # pos samples first, then neg
    assert bbox_w[0][:2].eq(1).all() and bbox_w[0][2].eq(0).all()
    # every proposal of the negative pair: background label (= num_classes = 1)
    assert labels[1].tolist() == [head.num_classes] * 3 == [1, 1, 1]
    assert label_w[1].eq(1).all()
    assert bbox_w[1].eq(0).all() and bbox_t[1].eq(0).all()

    q = torch.randn(6, C, S, S)
    support = torch.randn(2, C, S, S)[rois[:, 0].long()]  # each RoI's pair support
    cls_score, bbox_pred = head(q, support)
    out = head.loss_and_target(cls_score, bbox_pred, rois, [pos, neg], cfg)
    losses = out['loss_bbox']
    assert set(losses) == {'loss_cls', 'loss_bbox', 'acc'}
    expected_cls = F.cross_entropy(cls_score, torch.cat(labels))
    torch.testing.assert_close(losses['loss_cls'], expected_cls)
    assert losses['loss_bbox'] > 0
    (losses['loss_cls'] + losses['loss_bbox']).backward()

    # negative pair alone: no regression loss, and it stays differentiable
    q.grad = None
    neg_rois = rois[3:]
    cls_n, bbox_n = head(q[3:], support[3:])
    neg_losses = head.loss_and_target(cls_n, bbox_n, neg_rois, [neg], cfg)['loss_bbox']
    assert neg_losses['loss_bbox'].item() == 0
    torch.testing.assert_close(
        neg_losses['loss_cls'], F.cross_entropy(cls_n, torch.ones(3, dtype=torch.long)))


def test_predict_by_feat_binary():
    head = make_head()
    rois = torch.tensor([[0., 10., 10., 50., 50.], [0., 60., 60., 90., 100.]])
    cls_score = torch.tensor([[3., -3.], [-3., 3.]])
    bbox_pred = torch.zeros(2, 4)
    results = head.predict_by_feat(
        rois=(rois, ), cls_scores=(cls_score, ), bbox_preds=(bbox_pred, ),
        batch_img_metas=[dict(img_shape=(120, 120), scale_factor=(1., 1.))],
        rcnn_test_cfg=ConfigDict(score_thr=0.05, max_per_img=10,
                                 nms=dict(type='nms', iou_threshold=0.5)))
    res = results[0]
    assert res.labels.tolist() == [0]  # only the matching RoI; label 0 = support class
    torch.testing.assert_close(res.bboxes, rois[:1, 1:])


def test_training_separates_matching_pairs():
    """Matching pairs share a class prototype; 50 Adam steps learn it."""
    c, s_, n_cls, m = 16, 4, 6, 64
    protos = torch.randn(n_cls, c, s_, s_)
    head = MODELS.build(dict(type='AttentiveBBoxHead', in_channels=c, roi_feat_size=s_,
                             embed_channels=32, reg_convs=(16, )))
    head.init_weights()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)

    def batch():
        cq = torch.randint(n_cls, (m, ))
        same = torch.rand(m) < 0.5
        cs = torch.where(same, cq, (cq + torch.randint(1, n_cls, (m, ))) % n_cls)
        q = F.relu(protos[cq] + 0.5 * torch.randn(m, c, s_, s_))
        s = F.relu(protos[cs] + 0.5 * torch.randn(m, c, s_, s_))
        return q, s, (~same).long()  # 0 = same class, 1 = background

    losses = []
    for _ in range(50):
        q, s, labels = batch()
        cls_score, bbox_pred = head(q, s)
        loss = head.loss(cls_score, bbox_pred, None, labels, torch.ones(m),
                         torch.zeros(m, 4), torch.zeros(m, 4))
        opt.zero_grad()
        (loss['loss_cls'] + loss['loss_bbox']).backward()
        opt.step()
        losses.append(loss['loss_cls'].item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert first > 0.5 and last < 0.3 * first, (first, last)
    with torch.no_grad():
        q, s, labels = batch()
        acc = (head(q, s)[0].argmax(1) == labels).float().mean()
    assert acc > 0.9


@pytest.mark.parametrize('kwargs,match', [
    (dict(reg_type='conv'), 'reg_type'),
    (dict(with_global=False, with_local=False), 'with_global and with_local'),
    (dict(local_pool='max'), "unknown local_pool='max'"),
    (dict(num_classes=2), 'num_classes'),
    (dict(reg_class_agnostic=False), 'reg_class_agnostic'),
    (dict(reg_convs=2), 'reg_convs'),
    (dict(reg_convs=(8, 0)), 'reg_convs'),
    (dict(embed_channels=0), 'embed_channels'),
])
def test_bad_arguments(kwargs, match):
    cfg = dict(in_channels=C, roi_feat_size=S)
    cfg.update(kwargs)
    with pytest.raises(ValueError, match=match):
        AttentiveBBoxHead(**cfg)


def test_bad_inputs():
    head = make_head()
    q = torch.randn(M, C, S, S)
    with pytest.raises(ValueError, match='support_roi_feats has 2 rows for 6'):
        head(q, torch.randn(2, C, S, S))
    with pytest.raises(ValueError, match='query_roi_feats'):
        head(torch.randn(M, C + 1, S, S), torch.randn(M, C, S, S))
    with pytest.raises(ValueError, match='support_roi_feats'):
        head(q, torch.randn(M, C, S + 1, S + 1))


def test_empty_reg_convs():
    head = make_head(reg_convs=())
    q, s = torch.randn(M, C, S, S), torch.randn(M, C, S, S)
    _, bbox_pred = head(q, s)
    pooled = (q * s.mean((2, 3))[:, :, None, None]).mean((2, 3))  # (M, C)
    expected = pooled @ head.fc_reg.weight.T + head.fc_reg.bias  # (M, 4)
    torch.testing.assert_close(bbox_pred, expected)
