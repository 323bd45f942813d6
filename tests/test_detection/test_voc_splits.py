"""The PASCAL VOC few-shot splits (TFA's builtin_meta.py lists, literally)."""
import os.path as osp

import pytest
from mmdet.datasets import VOCDataset
from mmengine.config import Config

from mmfsod.detection.datasets import (TFA_VOC_SHOTS, TOY_VOC_SPLIT, VOC_CLASSES,
                                       VOC_SPLITS, check_class_split, voc_split)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))

# TFA's PASCAL_VOC_BASE_CATEGORIES / PASCAL_VOC_NOVEL_CATEGORIES, written out
TFA_BASE = {
    1: ['aeroplane', 'bicycle', 'boat', 'bottle', 'car', 'cat', 'chair', 'diningtable',
        'dog', 'horse', 'person', 'pottedplant', 'sheep', 'train', 'tvmonitor'],
    2: ['bicycle', 'bird', 'boat', 'bus', 'car', 'cat', 'chair', 'diningtable', 'dog',
        'motorbike', 'person', 'pottedplant', 'sheep', 'train', 'tvmonitor'],
    3: ['aeroplane', 'bicycle', 'bird', 'bottle', 'bus', 'car', 'chair', 'cow',
        'diningtable', 'dog', 'horse', 'person', 'pottedplant', 'train', 'tvmonitor'],
}
TFA_NOVEL = {1: ['bird', 'bus', 'cow', 'motorbike', 'sofa'],
             2: ['aeroplane', 'bottle', 'cow', 'horse', 'sofa'],
             3: ['boat', 'cat', 'motorbike', 'sheep', 'sofa']}


@pytest.mark.parametrize('split_id', [1, 2, 3])
def test_voc_split_is_tfas(split_id):
    split = voc_split(split_id)
    assert list(split['BASE_CLASSES']) == TFA_BASE[split_id]
    assert list(split['NOVEL_CLASSES']) == TFA_NOVEL[split_id]
    # TFA's PASCAL_VOC_ALL_CATEGORIES: base then novel (the label order)
    assert list(split['ALL_CLASSES']) == TFA_BASE[split_id] + TFA_NOVEL[split_id]
    assert check_class_split(split) == split
    assert set(split['ALL_CLASSES']) == set(VOC_CLASSES)
    assert split == VOC_SPLITS[split_id]


def test_voc_classes_and_shots():
    assert VOC_CLASSES == VOCDataset.METAINFO['classes']
    assert TFA_VOC_SHOTS == (1, 2, 3, 5, 10)
    with pytest.raises(ValueError, match='1, 2 or 3'):
        voc_split(4)


def test_toy_voc_split_is_the_toy_coco_split():
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/fsod_toy-shapes.py'))
    assert {k: tuple(v) for k, v in cfg.toy_class_splits.items()} == TOY_VOC_SPLIT
    assert check_class_split(TOY_VOC_SPLIT) == TOY_VOC_SPLIT
