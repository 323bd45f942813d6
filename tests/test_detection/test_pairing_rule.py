"""The pairing rule (pairing.py): images that show every class with supports
get pairs with fewer ways (counted, logged once), never a crash; a dataset
where no image has a negative left is an error naming num_support_ways."""
import json
import logging
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from mmfsod.detection.datasets.pairing import (check_pairs_possible, draw_negatives,
                                               fewer_way_queries, negative_candidates,
                                               pair_ways)

# four base classes with the non-consecutive ids of a user's json
FOUR = (('a_letter', 11), ('b_letter', 5), ('c_digit', 23), ('d_digit', 2))
SUPPORT_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CropSupportInstance', context=0.0),
    dict(type='Resize', scale=(32, 32), keep_ratio=True),
    dict(type='Pad', size=(32, 32), pad_val=dict(img=0)),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor'))
]
QUERY_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='PackDetInputs')
]


def write_four_class_set(root: str, num_train: int = 12) -> str:
    """A toy set whose 12 shapes are folded into the 4 classes of FOUR (shape
    i is class i % 4): with 4 to 6 objects an image, many images show all
    four. Returns the train json (file names under ``images/``)."""
    from mmfsod.utils.toy_shapes import generate_toy_shapes
    src = osp.join(root, 'generated')
    generate_toy_shapes(src, num_train=num_train, num_val=1, min_size=96, max_size=112,
                        min_objects=4, max_objects=6, min_scale=0.15, max_scale=0.3, seed=1)
    with open(osp.join(src, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    os.rename(src, osp.join(root, 'images'))  # file_name 'train/000000.jpg' under images/
    coco['categories'] = [dict(id=cid, name=name) for name, cid in FOUR]
    for ann in coco['annotations']:
        ann['category_id'] = FOUR[(ann['category_id'] - 1) % 4][1]
    path = osp.join(root, 'annotations', 'train.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def query_support_cfg(root: str, classes=tuple(n for n, _ in FOUR), **kwargs) -> dict:
    cfg = dict(type='QuerySupportDataset', num_support_ways=2, num_support_shots=2,
               support_pipeline=SUPPORT_PIPELINE,
               dataset=dict(type='FewShotCocoDataset', data_root=root,
                            ann_file='annotations/train.json',
                            data_prefix=dict(img='images/'), classes=list(classes),
                            filter_cfg=dict(filter_empty_gt=True),
                            pipeline=QUERY_PIPELINE))
    cfg.update(kwargs)
    return cfg


def build(cfg):
    from mmdet.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(cfg)


def test_rule_functions():
    assert negative_candidates({0, 1, 2, 3}, {1, 3, 7}) == [0, 2]
    assert negative_candidates([0, 1], [0, 1]) == []
    assert pair_ways(2, 0) == 1 and pair_ways(3, 1) == 3 and pair_ways(1, 0) == 1
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert draw_negatives(rng, [], 3) == [] and draw_negatives(rng, [4], 1) == []
    assert rng.bit_generator.state == state  # nothing drawn: the draws after stay
    assert sorted(draw_negatives(rng, [1, 2, 5], 3)) in ([1, 2], [1, 5], [2, 5])
    assert draw_negatives(rng, [5], 3) == [5, 5]  # repetition when too few
    assert fewer_way_queries({0, 1}, [{0}, {0, 1}, {1, 2, 0}], 2) == [1, 2]
    assert fewer_way_queries({0, 1}, [{0, 1}], 1) == []
    check_pairs_possible(3, 2, 2, ['a', 'b'], 'X')  # one query has a negative: fine
    check_pairs_possible(3, 3, 1, ['a'], 'X')  # 1-way needs none
    with pytest.raises(ValueError, match='num_support_ways=1'):
        check_pairs_possible(3, 3, 2, ['a'], 'X')


def test_all_classes_in_many_images_builds_and_pairs(tmp_path):
    root = str(tmp_path) + '/'
    write_four_class_set(root)
    logger = MMLogger.get_instance('test_pairing_rule', log_level='INFO')
    logged = []

    class Collect(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())

    handler = Collect(level=logging.INFO)
    logger.addHandler(handler)
    try:
        ds = build(query_support_cfg(root))
    finally:
        logger.removeHandler(handler)
    assert ds.num_fewer_way_queries > 0  # the crash of before: now a fewer-way pair
    assert ds.num_fewer_way_queries < len(ds.query_indices)
    lines = [m for m in logged if 'show every class with supports' in m]
    assert len(lines) == 1 and f'{ds.num_fewer_way_queries} of ' in lines[0]
    fewer = set(fewer_way_queries(ds.support_pool, ds.query_present, 2))
    assert len(fewer) == ds.num_fewer_way_queries
    for idx in range(len(ds)):
        draw = ds.sample_pair(idx)
        assert len(draw['supports']) == 4 == len(draw['is_repeat'])
        if idx in fewer:
            assert draw['num_ways'] == 1
            assert {lab for lab, _, _ in draw['supports']} == {draw['query_class']}
            assert draw['is_repeat'][2:] == [True, True]
        else:
            assert draw['num_ways'] == 2
            present = ds.query_present[idx]
            assert draw['supports'][2][0] not in present
    idx = min(fewer)
    item = ds[idx]  # loads: same shapes as a 2-way item
    assert item['support_inputs'].shape == (4, 3, 32, 32)
    info = item['data_samples'].support_instances
    assert info.is_repeat.tolist()[2:] == [True, True] and info.is_positive.all()
    again = build(query_support_cfg(root))
    assert again.sample_pair(idx) == ds.sample_pair(idx)  # seeded as before


def test_no_pair_possible_is_a_clear_error(tmp_path):
    root = str(tmp_path) + '/'
    write_four_class_set(root, num_train=4)
    # one class only: nothing can be a negative
    with pytest.raises(ValueError, match=r'no 2-way pair is possible.*num_support_ways=1'):
        build(query_support_cfg(root, classes=('c_digit', )))
    ds = build(query_support_cfg(root, classes=('c_digit', ), num_support_ways=1))
    assert ds.num_fewer_way_queries == 0 and len(ds) > 0


def test_detector_trains_on_a_batch_with_a_fewer_way_item(tmp_path):
    """A 1-way item (filled slots) and a 2-way item in one batch: one pair
    for the first, two for the second; finite losses; the filled slots stay
    out of the support mean, so they get no gradient."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from conftest import REPO
    root = str(tmp_path) + '/'
    write_four_class_set(root)
    ds = build(query_support_cfg(root))
    fewer = fewer_way_queries(ds.support_pool, ds.query_present, 2)
    full = next(i for i in range(len(ds)) if i not in fewer)
    batch = pseudo_collate([ds[fewer[0]], ds[full]])
    cfg = Config.fromfile(osp.join(REPO, 'configs/gcn_fsod/toy/'
                                   'gcn-fsod_r18_c4_toy_base-training.py'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.train()
    data = model.data_preprocessor(dict(batch), True)
    query = model.extract_feat(data['inputs'])
    pairs = model._make_pairs(query, data['data_samples'], data['support_inputs'])
    assert pairs[4] == [0, 1, 1]  # the query of each pair
    assert [len(p.gt_instances) > 0 for p in pairs[3]] == [True, True, False]
    data['support_inputs'].requires_grad_(True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    grad = data['support_inputs'].grad.flatten(2).abs().sum(-1)  # (B, S)
    assert (grad[0, :2] > 0).all() and (grad[0, 2:] == 0).all()  # filled: no gradient
    assert (grad[1] > 0).all()
