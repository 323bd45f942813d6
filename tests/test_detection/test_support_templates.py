"""Tests of support templates: choice, record in the checkpoint, reuse."""
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope
from torch import nn

from mmfsod.detection.datasets import (build_template_supports, load_support_templates,
                                       select_support_templates)
from mmfsod.detection.engine import SupportTemplateHook

from conftest import TINY_DET_CONFIG, fsod_toy_config, run_tool

TEMPLATE_CONFIG = osp.join(osp.dirname(TINY_DET_CONFIG), 'toy_det_tiny_templates.py')


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def test_fine_tuning_templates_are_the_k_shot_set(fsod_toy_root):
    cfg = fsod_toy_config('fine-tuning', fsod_toy_root)
    cfg.train_dataloader.dataset.dataset.few_shot_ann.shot = 3
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    t = select_support_templates(ds)  # num_shots=None: every instance
    classes = ds.metainfo['classes']
    assert t['classes'] == list(classes)
    src = ds.support_dataset
    expected = {c: set() for c in classes}
    for i in range(len(src)):
        for inst in src.get_data_info(i)['instances']:
            expected[classes[inst['bbox_label']]].add(inst['ann_id'])
    assert {c: {r['ann_id'] for r in v} for c, v in t['templates'].items()} == expected
    assert all(len(v) == 3 for v in t['templates'].values())


def test_sampled_templates_seeded(fsod_toy_root):
    cfg = fsod_toy_config('base-training', fsod_toy_root)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    a = select_support_templates(ds, num_shots=2, seed=0)
    b = select_support_templates(ds, num_shots=2, seed=0)
    c = select_support_templates(ds, num_shots=2, seed=5)
    assert a == b and a != c
    assert sorted(a['templates']) == sorted(ds.metainfo['classes'])
    assert all(len(v) == 2 for v in a['templates'].values())
    with pytest.raises(ValueError, match='blue_triangle'):
        select_support_templates(ds, classes=['blue_triangle'])
    with pytest.raises(ValueError, match='num_shots'):
        select_support_templates(ds, num_shots=0)


class TemplateModel(nn.Module):
    """Records what the hook gives it."""

    def set_support_templates(self, supports):
        self.supports = supports


def test_hook_records_and_restores(fsod_toy_root, tmp_path):
    cfg = fsod_toy_config('base-training', fsod_toy_root)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    runner = SimpleNamespace(work_dir=str(tmp_path), model=TemplateModel(),
                             train_dataloader=SimpleNamespace(dataset=train),
                             test_loop=SimpleNamespace(dataloader=SimpleNamespace(
                                 dataset=test)))
    hook = SupportTemplateHook(num_shots=2, seed=0, support_pipeline=cfg.support_pipeline)
    hook.before_train(runner)
    written = load_support_templates(str(tmp_path / 'support_templates.json'))
    assert written == hook.templates
    ckpt = dict(meta={})
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['meta']['support_templates'] == hook.templates

    fresh = SupportTemplateHook(support_pipeline=cfg.support_pipeline)
    with pytest.raises(RuntimeError, match='needs support templates'):
        fresh.before_test(runner)
    fresh.after_load_checkpoint(runner, ckpt)
    fresh.before_test(runner)
    supports = runner.model.supports
    assert sorted(supports) == list(range(len(test.metainfo['classes'])))
    inputs, info = supports[0]
    assert inputs.shape == (2, 3, 96, 96) and info.labels.tolist() == [0, 0]
    assert info.ann_ids.tolist() == [r['ann_id'] for r in
                                     hook.templates['templates'][test.metainfo['classes'][0]]]
    # an evaluated class without templates is an error naming it
    ckpt['meta']['support_templates']['templates'].pop('red_circle')
    fresh.after_load_checkpoint(runner, ckpt)
    with pytest.raises(ValueError, match='red_circle'):
        fresh.before_test(runner)


def test_build_supports_missing_class(fsod_toy_root):
    cfg = fsod_toy_config('base-training', fsod_toy_root)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    t = select_support_templates(ds, num_shots=1)
    with pytest.raises(ValueError, match='cyan_diamond'):
        build_template_supports(t, cfg.support_pipeline, ['red_circle', 'cyan_diamond'])


def test_templates_in_checkpoint_reused_by_test_tool(tiny_toy_root, tmp_path):
    work = tmp_path / 'work'
    res = run_tool(['tools/train.py', TEMPLATE_CONFIG, '--work-dir', str(work)])
    assert res.returncode == 0, res.stdout[-3000:]
    ckpt_path = work / 'iter_2.pth'
    ckpt = torch.load(str(ckpt_path), map_location='cpu', weights_only=False)
    recorded = ckpt['meta']['support_templates']
    with open(work / 'support_templates.json') as f:
        assert json.load(f) == recorded
    # every configured class, 1 to 3 templates each (an empty record fails)
    assert sorted(recorded['templates']) == sorted(
        ['red_circle', 'green_square', 'blue_triangle', 'orange_ring'])
    assert all(1 <= len(v) <= 3 for v in recorded['templates'].values())
    res = run_tool(['tools/test.py', TEMPLATE_CONFIG, str(ckpt_path),
                    '--work-dir', str(tmp_path / 'test')])
    assert res.returncode == 0, res.stdout[-3000:]
    assert 'support templates from the checkpoint' in res.stdout


def test_changing_a_class_templates_changes_its_detections(fsod_toy_root):
    """A QuerySupportDetector's detections of a class follow that class's
    templates: other templates for class A change A's detections and leave
    every other class's detections as they were."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from conftest import REPO
    cfg = fsod_toy_config('base-training', fsod_toy_root)
    ds = DATASETS.build(cfg.val_dataloader.dataset)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    model_cfg = Config.fromfile(
        f'{REPO}/configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py').model
    model_cfg.test_cfg.update(max_per_img=10000, rcnn=dict(score_thr=0.0, max_per_img=50))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).eval()
    classes = ds.metainfo['classes']
    chosen = select_support_templates(train, num_shots=2, seed=0)
    supports = build_template_supports(chosen, cfg.support_pipeline, classes)
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), False)

    def detect(templates):
        model.set_support_templates(templates)
        with torch.no_grad():
            preds = model.predict(batch['inputs'], [s.clone() for s in batch['data_samples']])
        return [p.pred_instances for p in preds]

    def of_class(preds, label):
        return [(p.scores[p.labels == label], p.bboxes[p.labels == label]) for p in preds]

    before = detect(supports)
    a, b = 0, 1
    changed = dict(supports)
    changed[a] = supports[b]  # class a shown by class b's templates
    after = detect(changed)
    assert any(len(x[0]) and (len(x[0]) != len(y[0]) or not torch.allclose(x[0], y[0]))
               for x, y in zip(of_class(before, a), of_class(after, a)))
    for label in supports:
        if label == a:
            continue
        for (s0, b0), (s1, b1) in zip(of_class(before, label), of_class(after, label)):
            torch.testing.assert_close(s0, s1)
            torch.testing.assert_close(b0, b1)
