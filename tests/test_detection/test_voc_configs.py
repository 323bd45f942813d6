"""The PASCAL VOC configs of GCN-FSOD and TFA: every split and shot, the
split's class lists, the 20-way protocol, TFA's schedules; the models build."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmfsod.detection.datasets.class_splits import resolve_classes
from mmfsod.detection.datasets.voc_splits import TFA_VOC_SHOTS, VOC_SPLITS

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
GCN = sorted(glob.glob(osp.join(REPO, 'configs', 'gcn_fsod', 'voc', '*.py')))
TFA = sorted(glob.glob(osp.join(REPO, 'configs', 'tfa', 'voc', '*.py')))
NAME = re.compile(r'(gcn-fsod_r50_c4_4xb2|tfa_r101_fpn_8xb2|tfa-cos_r101_fpn_8xb2)'
                  r'_voc-split(\d)_(base-training|(\d+)shot-fine-tuning)\.py$')
# TFA's configs/PascalVOC-detection/split{N}/faster_rcnn_R_101_FPN_ft_all{N}_{K}shot.yaml:
# shot -> (lr, max_iter, step, warm-up iterations); split 2 has its own
TFA_FT = {1: (0.001, 4000, 3000, 0), 2: (0.001, 8000, 7000, 0), 3: (0.001, 12000, 11000, 10),
          5: (0.001, 20000, 18000, 10), 10: (0.001, 40000, 36000, 10)}
TFA_FT_SPLIT2 = {1: (0.005, 4000, 3500, 0), 2: (0.005, 8000, 7000, 0),
                 3: (0.005, 12000, 10500, 0), 5: (0.005, 20000, 17500, 0),
                 10: (0.005, 40000, 35000, 0)}


def test_every_split_and_shot_has_its_configs():
    names = {osp.basename(p) for p in GCN + TFA}
    assert all(NAME.match(n) for n in names), sorted(n for n in names if not NAME.match(n))
    for split in (1, 2, 3):
        assert f'gcn-fsod_r50_c4_4xb2_voc-split{split}_base-training.py' in names
        assert f'tfa_r101_fpn_8xb2_voc-split{split}_base-training.py' in names
        for shot in TFA_VOC_SHOTS:
            assert f'gcn-fsod_r50_c4_4xb2_voc-split{split}_{shot}shot-fine-tuning.py' in names
            assert f'tfa-cos_r101_fpn_8xb2_voc-split{split}_{shot}shot-fine-tuning.py' in names
    assert len(names) == 2 * 3 * (1 + len(TFA_VOC_SHOTS))


def schedule(cfg):
    """(lr, max_iters, lr steps, warm-up iterations) of a config."""
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    warm = [s.end for s in cfg.param_scheduler if s.type == 'LinearLR']
    return (cfg.optim_wrapper.optimizer.lr, cfg.train_cfg.max_iters, steps[0].milestones,
            warm[0] if warm else 0)


@pytest.mark.parametrize('path', GCN + TFA, ids=osp.basename)
def test_split_classes_protocol_and_schedule(path):
    method, split, stage, shot = NAME.search(path).groups()
    split = VOC_SPLITS[int(split)]
    cfg = Config.fromfile(path)
    train = cfg.train_dataloader.dataset.dataset
    assert train.type == 'FewShotVOCDataset' and train.use_difficult
    assert train.ann_file == ['VOC2007/ImageSets/Main/trainval.txt',
                              'VOC2012/ImageSets/Main/trainval.txt']
    for ds in (train, cfg.val_dataloader.dataset, cfg.test_dataloader.dataset):
        assert {k: tuple(v) for k, v in ds.class_splits.items()} == split
    test = cfg.test_dataloader.dataset
    assert test.ann_file == 'VOC2007/ImageSets/Main/test.txt' and not test.use_difficult
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'FewShotVOCMetric' and evaluator.eval_mode == '11points'
    base = stage == 'base-training'
    want = 'BASE_CLASSES' if base else 'ALL_CLASSES'
    # base training: 15 base classes; fine-tuning: the 20-way protocol, trained
    # and tested on all 20 classes with the novel / base groups
    assert train.classes == test.classes == want
    classes = resolve_classes(want, split)
    assert len(classes) == (15 if base else 20)
    assert cfg.test_evaluator.class_groups == (
        dict(base='BASE_CLASSES') if base else dict(novel='NOVEL_CLASSES', base='BASE_CLASSES'))
    if 'tfa' in method:
        assert cfg.model.roi_head.bbox_head.num_classes == len(classes)
        assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16,
                                         keep_total_batch=True)
    else:
        assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=8,
                                         keep_total_batch=True)
    assert cfg.train_dataloader.batch_size == 2
    if base:
        assert 'few_shot_ann' not in train
        if 'tfa' in method:  # TFA's faster_rcnn_R_101_FPN_base{N}.yaml
            assert schedule(cfg) == (0.02, 18000, [12000, 16000], 100)
        else:
            assert schedule(cfg) == (0.002, 20000, [18700], 500)
        return
    shot = int(shot)
    assert train.few_shot_ann == dict(root='vocsplit/', shot=shot, seed=0)
    assert cfg.load_from and 'base-training' in cfg.load_from
    if 'tfa' in method:
        table = TFA_FT_SPLIT2 if split is VOC_SPLITS[2] else TFA_FT
        lr, iters, step, warm = table[shot]
        assert schedule(cfg) == (lr, iters, [step], warm)
        assert cfg.model.type == 'TFA' and cfg.model.roi_head.bbox_head.type == \
            'CosineSimBBoxHead'
    else:
        assert schedule(cfg) == (0.001, 50 * shot, [round(50 * shot * 0.65 + 1e-9)], 0)
        assert cfg.model.backbone.frozen_stages == 3
    assert cfg.train_cfg.val_interval == cfg.train_cfg.max_iters


def test_the_models_build():
    """Each distinct model of the VOC configs builds (weights not loaded)."""
    from mmdet.registry import MODELS

    import mmfsod.detection  # noqa: F401
    models = {}
    for path in GCN + TFA:
        cfg = Config.fromfile(path)
        cfg.model.backbone.init_cfg = None
        if cfg.model.get('roi_head', {}).get('shared_head', {}).get('init_cfg'):
            cfg.model.roi_head.shared_head.init_cfg = None
        models.setdefault(repr(cfg.model), (path, cfg.model))
    assert len(models) == 4  # GCN-FSOD / TFA, base training / fine-tuning
    with DefaultScope.overwrite_default_scope('mmdet'):
        for path, model_cfg in models.values():
            model = MODELS.build(model_cfg)
            name = osp.basename(path)
            if name.startswith('gcn-fsod'):
                assert type(model).__name__ == 'QuerySupportDetector'
            elif 'fine-tuning' in name:
                assert type(model).__name__ == 'TFA'
                assert model.roi_head.bbox_head.num_classes == 20
                trainable = {n for n, p in model.named_parameters() if p.requires_grad}
                assert trainable and all(n.startswith('roi_head.bbox_head.fc_')
                                         for n in trainable)
            else:
                assert type(model).__name__ == 'FasterRCNN'
                assert model.roi_head.bbox_head.num_classes == 15
