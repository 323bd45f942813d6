"""Tests of the GCN-FSOD detector: configs, heads, pairs, training step, predict."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmfsod.detection.datasets import build_template_supports, select_support_templates

from conftest import REPO, fsod_toy_config

TOY_BASE = osp.join(REPO, 'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py')
COCO_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/gcn_fsod/coco/**/*.py'), recursive=True))
ABLATIONS = dict(
    global_kernel=dict(rpn_head=dict(rpn_type='global_kernel')),
    lcrpn_coupled=dict(rpn_head=dict(rpn_type='lcrpn_coupled')),
    cg_only=dict(roi_head=dict(bbox_head=dict(with_local=False))),
    cl_only=dict(roi_head=dict(bbox_head=dict(with_global=False))),
    stacked_reg=dict(roi_head=dict(bbox_head=dict(reg_type='stacked'))),
    full=dict())
# What each ablation changes in the built model against the full one:
# (modules removed, modules added, parameters whose shape changes).
ABLATION_DIFFS = {
    'global_kernel': ({'rpn_head.graph', 'rpn_head.reg_conv'}, {'rpn_head.rpn_conv'}, set()),
    'lcrpn_coupled': ({'rpn_head.reg_conv'}, set(), set()),
    'cg_only': ({'roi_head.bbox_head.local_embed'}, set(),
                {'roi_head.bbox_head.fc_cls.weight'}),
    'cl_only': ({'roi_head.bbox_head.global_embed'}, set(),
                {'roi_head.bbox_head.fc_cls.weight'}),
    'stacked_reg': (set(), set(), {'roi_head.bbox_head.reg_convs.0.weight'}),
    'full': (set(), set(), set())}


def module_diff(full: torch.nn.Module, ablated: torch.nn.Module):
    """(modules removed, modules added, reshaped parameters) of ``ablated``
    against ``full``; a module is named by the shortest prefix of its
    parameters' names that the other model does not have."""
    a = {k: v.shape for k, v in full.state_dict().items()}
    b = {k: v.shape for k, v in ablated.state_dict().items()}

    def prefixes(keys, other):
        out = set()
        for key in keys:
            parts = key.split('.')
            for n in range(1, len(parts) + 1):
                prefix = '.'.join(parts[:n])
                if not any(k == prefix or k.startswith(prefix + '.') for k in other):
                    out.add(prefix)
                    break
        return out
    reshaped = {k for k in a.keys() & b.keys() if a[k] != b[k]}
    return prefixes(a.keys() - b.keys(), b), prefixes(b.keys() - a.keys(), a), reshaped


def test_ablation_configs_change_the_model_as_named():
    """Each COCO ablation config builds a model that differs from its
    parent config's exactly in the modules its ablation names."""
    names = {'global-kernel': 'global_kernel', 'lcrpn-coupled': 'lcrpn_coupled',
             'cg-only': 'cg_only', 'cl-only': 'cl_only', 'stacked-reg': 'stacked_reg'}
    ablations = [p for p in COCO_CONFIGS if '/ablations/' in p]
    assert len(ablations) == 10
    full = {}
    for path in sorted(ablations):
        stage = 'base-training' if path.endswith('base-training.py') else '10shot-fine-tuning'
        if stage not in full:
            torch.manual_seed(0)
            full[stage] = MODELS.build(Config.fromfile(osp.join(
                REPO, f'configs/gcn_fsod/coco/gcn-fsod_r50_c4_4xb2_coco_{stage}.py')).model)
        ablation = next(v for k, v in names.items() if f'_{k}_' in osp.basename(path))
        model = MODELS.build(Config.fromfile(path).model)
        assert module_diff(full[stage], model) == ABLATION_DIFFS[ablation], path


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')
    import mmfsod.detection  # noqa: F401


def tiny_model_cfg(**override):
    """The toy model, narrowed further for speed."""
    cfg = Config.fromfile(TOY_BASE)
    cfg.merge_from_dict(dict(model=override), allow_list_keys=False)
    return cfg.model


@pytest.fixture(scope='module')
def toy_batch(fsod_toy_root):
    init_default_scope('mmdet')
    cfg = fsod_toy_config('base-training', fsod_toy_root,
                          **{'train_dataloader.dataset.num_support_shots': 1})
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([ds[0], ds[1]]), ds


def test_every_coco_config_builds():
    """Paper configs and every ablation row build (no weights loaded)."""
    assert len(COCO_CONFIGS) == 3 + 2 + 10  # paper, 20-way tests, ablations
    for path in COCO_CONFIGS:
        cfg = Config.fromfile(path)
        model = MODELS.build(cfg.model)
        assert type(model).__name__ == 'QuerySupportDetector', path
        name = osp.basename(path)
        if 'global-kernel' in name:
            assert model.rpn_head.rpn_type == 'global_kernel'
        if 'fine-tuning' in name:
            assert cfg.load_from and cfg.model.backbone.frozen_stages == 3
        # the protocols: 80-way by default, novel-only in the 20-way configs
        twenty = '20way-novel-test' in name
        assert cfg.test_dataloader.dataset.classes == (
            'NOVEL_CLASSES' if twenty else 'BASE_CLASSES' if 'base-training' in name
            else 'ALL_CLASSES'), name
        if twenty:
            assert cfg.test_evaluator.class_groups == dict(novel='NOVEL_CLASSES')
            assert cfg.val_dataloader.dataset.classes == 'ALL_CLASSES'


@pytest.mark.parametrize('ablation', sorted(ABLATIONS))
def test_one_training_step_per_ablation(toy_batch, ablation):
    torch.manual_seed(0)
    batch, _ = toy_batch
    model = MODELS.build(tiny_model_cfg(**ABLATIONS[ablation]))
    # the ablation took effect: its modules differ from the full model's
    assert module_diff(MODELS.build(tiny_model_cfg()), model) == ABLATION_DIFFS[ablation]
    model.train()
    data = model.data_preprocessor(dict(batch), True)
    losses = model(**data, mode='loss')
    names = {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'}
    assert names <= set(losses), sorted(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    # the shared backbone gets gradient (from queries and supports)
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_gradients_reach_query_and_support(toy_batch):
    torch.manual_seed(0)
    batch, _ = toy_batch
    model = MODELS.build(tiny_model_cfg())
    model.train()
    data = model.data_preprocessor(dict(batch), True)
    data['inputs'].requires_grad_(True)
    data['support_inputs'].requires_grad_(True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    total.backward()
    assert data['inputs'].grad.abs().sum() > 0
    assert data['support_inputs'].grad.abs().sum() > 0


def test_negative_pairs_have_only_background(toy_batch):
    batch, _ = toy_batch
    model = MODELS.build(tiny_model_cfg())
    data = model.data_preprocessor(dict(batch), True)
    query = model.extract_feat(data['inputs'])
    _, _, _, pairs, _ = model._make_pairs(query, data['data_samples'], data['support_inputs'])
    assert len(pairs) == 2 * 2  # 2 queries x 2 ways
    positives = [len(p.gt_instances) for p in pairs]
    assert positives[0] > 0 and positives[1] == 0 and positives[2] > 0 and positives[3] == 0
    # RPN targets of the negative pair: no positive anchor
    cls_scores, bbox_preds = model.rpn_head(query[[0, 0]], torch.randn(2, 256, 6, 6))
    anchors, valid = model.rpn_head.get_anchors(
        [s.shape[-2:] for s in cls_scores], [pairs[0].metainfo, pairs[1].metainfo],
        device=query.device)
    targets = model.rpn_head.get_targets(
        anchors, valid, [pairs[0].gt_instances, pairs[1].gt_instances],
        [pairs[0].metainfo, pairs[1].metainfo])
    labels, label_weights = targets[0][0], targets[1][0]
    num_anchors = anchors[0][0].shape[0]
    pos_labels = labels.view(2, num_anchors) == 0
    weights = label_weights.view(2, num_anchors)
    assert pos_labels[0][weights[0] > 0].any()
    assert not pos_labels[1][weights[1] > 0].any()


def test_predict_merges_classes_and_caps(toy_batch, fsod_toy_root):
    """Batched over classes == one class at a time; labels are the template
    classes; the per-image cap keeps the highest scores."""
    batch, ds = toy_batch
    cfg = fsod_toy_config('base-training', fsod_toy_root,
                          **{'train_dataloader.dataset.num_support_shots': 1})
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(test_cfg=dict(max_per_img=10000,
                                                      rcnn=dict(score_thr=0.0))))
    model.eval()
    templates = select_support_templates(ds, num_shots=2)
    classes = ds.metainfo['classes']
    supports = build_template_supports(templates, cfg.support_pipeline, classes)
    inputs, samples = _query_only(model, batch)
    with pytest.raises(RuntimeError, match='support templates'):
        model.predict(inputs, samples)
    model.set_support_templates(supports)

    def run(chunk, cap):
        model.class_chunk = chunk
        model.test_cfg['max_per_img'] = cap
        with torch.no_grad():
            return [r.pred_instances for r in model.predict(
                inputs, [s.clone() for s in samples])]

    def ordered(pred):
        order = torch.argsort(pred.scores, descending=True, stable=True)
        return pred.scores[order], pred.labels[order], pred.bboxes[order]

    batched = run(4, 10000)  # 9 classes in 3 chunks
    looped = run(1, 10000)
    for a, b in zip(batched, looped):
        for x, y in zip(ordered(a), ordered(b)):
            torch.testing.assert_close(x.float(), y.float(), rtol=1e-4, atol=1e-4)
        assert set(a.labels.tolist()) <= set(range(len(classes)))
    assert len({lab for p in batched for lab in p.labels.tolist()}) > 1  # merged classes
    capped = run(4, 7)
    for full, cut in zip(batched, capped):
        assert len(cut) == min(7, len(full))
        torch.testing.assert_close(torch.sort(cut.scores, descending=True).values,
                                   torch.sort(full.scores, descending=True).values[:7])
    # the templates' features were computed once and are reused
    cached = model._template_feats
    run(4, 7)
    assert model._template_feats is cached
    # new weights (a checkpoint, EMA) or a move invalidate them: predictions
    # with halved weights differ from the cached model's
    halved = {k: v * 0.5 if v.is_floating_point() else v
              for k, v in model.state_dict().items()}
    model.load_state_dict(halved)
    assert model._template_feats is None
    reloaded = run(4, 7)
    assert any(len(a) != len(b) or not torch.allclose(a.scores, b.scores)
               for a, b in zip(reloaded, capped))
    model.to('cpu')
    assert model._template_feats is None


def _query_only(model, batch):
    data = model.data_preprocessor(dict(inputs=batch['inputs'],
                                        data_samples=batch['data_samples']), False)
    return data['inputs'], data['data_samples']


def test_bad_inputs(toy_batch):
    batch, _ = toy_batch
    with pytest.raises(ValueError, match='rpn_type'):
        MODELS.build(tiny_model_cfg(rpn_head=dict(rpn_type='attention')))
    model = MODELS.build(tiny_model_cfg())
    data = model.data_preprocessor(dict(batch), True)
    with pytest.raises(ValueError, match='support_inputs'):
        model(data['inputs'], data['data_samples'], mode='loss')
    with pytest.raises(ValueError, match='2 queries'):
        model(data['inputs'], data['data_samples'], mode='loss',
              support_inputs=data['support_inputs'][:1])
    with pytest.raises(ValueError, match='support sets'):
        model.data_preprocessor(dict(batch, support_inputs=batch['support_inputs'][:1]), True)
    with pytest.raises(ValueError, match='empty support template'):
        model.set_support_templates({})
    with pytest.raises(ValueError, match='agree'):
        model.rpn_head(torch.zeros(2, 256, 8, 8), torch.zeros(3, 256, 4, 4))


def swap_ways(data: dict) -> dict:
    """The batch with each query's positive and negative support images
    exchanged (labels and boxes kept): every pair now shows the other class."""
    out = dict(data)
    sup = data['support_inputs']  # (B, 2, 3, h, w): 2-way 1-shot
    assert sup.shape[1] == 2
    out['support_inputs'] = sup.flip(1)
    return out


def test_loss_falls_on_a_fixed_batch(toy_batch):
    """SGD on one fixed 2-query batch: the total loss falls (the model can
    learn its pairs), for the RPN and the RoI head alike; and what it learnt
    depends on the supports: with each query's positive and negative support
    exchanged, the loss is higher (a model that ignored its supports would
    give the same loss). Only the RoI head's loss is checked: on this batch
    the RPN objectness loss was found indifferent to the swap (0.0213 and
    0.0212 after 30 steps, 0.0152 / 0.0150 after 60), its graph did not
    learn to use the supports within these steps."""
    torch.manual_seed(0)
    batch, _ = toy_batch
    model = MODELS.build(tiny_model_cfg())
    model.train()
    data = model.data_preprocessor(dict(batch), True)
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = []
    for _ in range(45):
        losses = model(**data, mode='loss')
        total, log = model.parse_losses(losses)
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append({k: v.item() for k, v in log.items()})
    first, last = history[0], history[-1]
    assert last['loss'] < 0.5 * first['loss'], [h['loss'] for h in history]
    assert last['loss_rpn_cls'] < first['loss_rpn_cls']
    assert last['loss_cls'] < first['loss_cls']

    def loss_of(batch):
        torch.manual_seed(1)  # the same proposal sampling for both
        with torch.no_grad():
            _, log = model.parse_losses(model(**batch, mode='loss'))
        return {k: v.item() for k, v in log.items()}
    right, swapped = loss_of(data), loss_of(swap_ways(data))
    # the gap grows with the steps (x 1.05 after 30 here, x 1.6 after 45 on
    # another draw of the batch); a model ignoring its supports gives x 1.00
    assert swapped['loss_cls'] > 1.1 * right['loss_cls'], (right, swapped)
    assert swapped['loss'] > right['loss']


def test_new_shot_and_seed_config(fsod_toy_root):
    """The example of a new shot setting / split seed (docs/few_shot_detection.md): its training
    set is the 5-shot file set of seed 1, on every class."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/gcn_fsod/toy/'
                                   'gcn-fsod_r18_c4_toy_5shot-seed1_fine-tuning.py'))
    assert cfg.train_cfg.max_iters == 200 and cfg.load_from.endswith('iter_1000.pth')
    ds_cfg = cfg.train_dataloader.dataset.dataset
    assert ds_cfg.few_shot_ann == dict(root='few_shot_ann/', shot=5, seed=1)
    ds_cfg.update(data_root=fsod_toy_root, generate=None)
    ds = DATASETS.build(ds_cfg)
    counts = {}
    for i in range(len(ds)):
        for inst in ds.get_data_info(i)['instances']:
            counts[inst['bbox_label']] = counts.get(inst['bbox_label'], 0) + 1
    assert sorted(counts) == list(range(12)) and set(counts.values()) == {5}


def _unshared_predict(model, inputs, samples):
    """The class-batched predict as it was before the query sharing: per-pair
    copies of the query map, no ``query_groups`` (each pair its own graph)."""
    from mmengine.structures import InstanceData
    feats = model._class_feats()
    query = model.extract_feat(inputs)
    labels, per_image = feats['labels'], [[] for _ in samples]
    for start in range(0, len(labels), model.class_chunk):
        chunk = list(range(start, min(start + model.class_chunk, len(labels))))
        pair_q = query.repeat_interleave(len(chunk), dim=0)
        pair_maps = feats['maps'][chunk].repeat(len(samples), 1, 1, 1)
        pair_rois = feats['rois'][chunk].repeat(len(samples), 1, 1, 1)
        metas = [s.metainfo for s in samples for _ in chunk]
        proposals = model.rpn_head.predict_pairs(pair_q, pair_maps, metas)
        dets = model.roi_head.predict_pairs((pair_q, ), pair_rois, metas, proposals,
                                            rescale=True)
        for p, det in enumerate(dets):
            det.labels = torch.full_like(det.labels, labels[chunk[p % len(chunk)]])
            per_image[p // len(chunk)].append(det)
    out = []
    for dets in per_image:
        merged = InstanceData.cat(dets)
        keep = merged.scores.topk(min(len(merged), model.test_cfg['max_per_img'])).indices
        out.append(merged[keep])
    return out


@pytest.mark.parametrize('num_imgs', [1, 2])
def test_predict_with_shared_query_equals_unshared(toy_batch, fsod_toy_root, num_imgs):
    """The shared query graph changes no detection of a fixed tiny model (one
    image: an expand view of its map; two: per-pair copies)."""
    batch, ds = toy_batch
    cfg = fsod_toy_config('base-training', fsod_toy_root)
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(class_chunk=5,
                                        test_cfg=dict(rcnn=dict(score_thr=0.0))))
    model.eval()
    templates = select_support_templates(ds, num_shots=2)
    model.set_support_templates(build_template_supports(
        templates, cfg.support_pipeline, ds.metainfo['classes']))
    inputs, samples = _query_only(model, batch)
    inputs, samples = inputs[:num_imgs], samples[:num_imgs]
    with torch.no_grad():
        shared = [r.pred_instances for r in model.predict(inputs,
                                                          [s.clone() for s in samples])]
        unshared = _unshared_predict(model, inputs, [s.clone() for s in samples])
    for a, b in zip(shared, unshared):
        assert len(a) == len(b) > 0
        order_a = torch.argsort(a.scores, descending=True, stable=True)
        order_b = torch.argsort(b.scores, descending=True, stable=True)
        torch.testing.assert_close(a.scores[order_a], b.scores[order_b], rtol=0, atol=1e-5)
        assert torch.equal(a.labels[order_a], b.labels[order_b])
        torch.testing.assert_close(a.bboxes[order_a], b.bboxes[order_b], rtol=0, atol=1e-3)


@pytest.mark.parametrize('rpn_type', ['lcrpn', 'lcrpn_coupled', 'global_kernel'])
def test_rpn_losses_with_shared_query_equal_unshared(toy_batch, rpn_type):
    """Training: the ways of one query share its graph work, same losses and
    gradients; pairs marked with one query but given different maps fail."""
    batch, _ = toy_batch
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(rpn_head=dict(rpn_type=rpn_type)))
    data = model.data_preprocessor(dict(batch), True)
    query = model.extract_feat(data['inputs'])
    pair_q, maps, _, pairs, groups = model._make_pairs(query, data['data_samples'],
                                                       data['support_inputs'])
    assert len(set(groups)) == 2 and len(groups) > 2  # ways of each query
    params = [p for p in model.rpn_head.parameters() if p.requires_grad]
    results = []
    for query_groups in (groups, None):
        torch.manual_seed(1)  # the RPN's sampler
        losses, _ = model.rpn_head.loss_and_predict(pair_q, maps, [p.clone() for p in pairs],
                                                    model.train_cfg.rpn_proposal,
                                                    query_groups)
        total = sum(sum(v) if isinstance(v, list) else v for v in losses.values())
        results.append((total, torch.autograd.grad(total, [query] + params,
                                                   retain_graph=True)))
    (loss_s, grads_s), (loss_u, grads_u) = results
    torch.testing.assert_close(loss_s, loss_u, rtol=1e-5, atol=1e-6)
    for g_s, g_u in zip(grads_s, grads_u):
        torch.testing.assert_close(g_s, g_u, rtol=1e-4, atol=1e-6)
    if rpn_type != 'global_kernel':
        other = pair_q.detach().clone()
        other[1] = other[1].flip(-1)
        with pytest.raises(ValueError, match='marked as sharing a query'):
            model.rpn_head(other, maps, [0] * len(groups))
    with pytest.raises(ValueError, match='agree in pairs and channels'):  # channel count
        model.rpn_head(pair_q, maps[:, :-1], groups)
