"""Tests of FewShotCocoDataset: class splits, TFA K-shot files, drops, errors."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmfsod.detection.datasets import (COCO_ALL_CLASSES, COCO_BASE_CLASSES,
                                       COCO_NOVEL_CLASSES, FewShotCocoDataset,
                                       check_class_split)
from mmfsod.detection.datasets.few_shot_split import seed_dir, split_file_name

from conftest import FSOD_SHOTS, fsod_toy_config

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
               'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
               'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
VOC_TO_COCO = dict(aeroplane='airplane', diningtable='dining table',
                   motorbike='motorcycle', pottedplant='potted plant', sofa='couch',
                   tvmonitor='tv')


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def test_coco_split_is_voc_novel():
    novel = {VOC_TO_COCO.get(c, c) for c in VOC_CLASSES}
    assert set(COCO_NOVEL_CLASSES) == novel and len(COCO_NOVEL_CLASSES) == 20
    assert len(COCO_BASE_CLASSES) == 60 and not set(COCO_BASE_CLASSES) & novel
    assert set(COCO_BASE_CLASSES) | novel == set(COCO_ALL_CLASSES)
    # both keep COCO's category order
    for group in (COCO_BASE_CLASSES, COCO_NOVEL_CLASSES):
        assert list(group) == [c for c in COCO_ALL_CLASSES if c in group]


@pytest.mark.parametrize('split, message', [
    (dict(BASE_CLASSES=('a', )), 'NOVEL_CLASSES'),
    (dict(BASE_CLASSES=('a', 'b'), NOVEL_CLASSES=('b', )), 'both base and novel'),
    (dict(BASE_CLASSES=('a', ), NOVEL_CLASSES=('b', ), ALL_CLASSES=('a', 'c')), "'c'"),
    (dict(BASE_CLASSES=('a', 'a'), NOVEL_CLASSES=('b', )), 'twice'),
    (dict(BASE_CLASSES=('a', ), NOVEL_CLASSES=('b', ), OTHER=('c', )), 'OTHER'),
])
def test_bad_class_split(split, message):
    with pytest.raises(ValueError, match=message):
        check_class_split(split)


def hand_made_coco(tmp_path):
    """Two images; a crowd box, a zero-area box, an out-of-image box, a tiny
    box and three good ones; categories listed out of id order."""
    cats = [dict(id=7, name='dog'), dict(id=3, name='cat'), dict(id=5, name='bird')]
    images = [dict(id=1, file_name='a.jpg', height=100, width=100),
              dict(id=2, file_name='b.jpg', height=100, width=100)]
    anns = [
        dict(id=10, image_id=1, category_id=3, bbox=[10, 10, 30, 30], area=900, iscrowd=0),
        dict(id=11, image_id=1, category_id=7, bbox=[50, 50, 40, 40], area=1600, iscrowd=0),
        dict(id=12, image_id=1, category_id=3, bbox=[0, 0, 90, 90], area=8100, iscrowd=1),
        dict(id=13, image_id=2, category_id=7, bbox=[5, 5, 0, 10], area=0, iscrowd=0),
        dict(id=14, image_id=2, category_id=7, bbox=[150, 150, 10, 10], area=100,
             iscrowd=0),
        dict(id=15, image_id=2, category_id=5, bbox=[20, 20, 4, 4], area=16, iscrowd=0),
        dict(id=16, image_id=2, category_id=5, bbox=[20, 20, 40, 40], area=1600,
             iscrowd=0),
    ]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return str(path)


# the file lists dog (id 7), cat (3), bird (5): orders of `classes` that are
# the file's, the ids', and neither
@pytest.mark.parametrize('classes', [('dog', 'cat', 'bird'), ('cat', 'bird', 'dog'),
                                     ('bird', 'dog', 'cat')])
def test_drops_counted_and_labels_follow_classes(tmp_path, classes):
    ann = hand_made_coco(tmp_path)
    ds = FewShotCocoDataset(ann_file=ann, classes=classes,
                            min_bbox_area=20, pipeline=[], test_mode=True)
    assert dict(ds.drop_counts) == {'crowd': 1, 'zero-area': 2,
                                    'below min_bbox_area=20': 1}
    by_ann = {inst['ann_id']: inst['bbox_label']
              for i in range(len(ds)) for inst in ds.get_data_info(i)['instances']}
    # labels in the order of `classes`, not of the file's categories:
    # annotation 10 is a cat, 11 a dog, 16 a bird
    assert by_ann == {10: classes.index('cat'), 11: classes.index('dog'),
                      16: classes.index('bird')}
    assert ds.metainfo['classes'] == classes


def test_split_name_and_empty_queries(tmp_path):
    ann = hand_made_coco(tmp_path)
    split = dict(BASE_CLASSES=('cat', 'bird'), NOVEL_CLASSES=('dog', ))
    ds = FewShotCocoDataset(ann_file=ann, classes='NOVEL_CLASSES', class_splits=split,
                            pipeline=[], filter_cfg=dict(filter_empty_gt=True))
    # image 2 has no usable dog: skipped and counted
    assert len(ds) == 1 and ds.skip_counts['no_instance'] == 1
    assert ds.metainfo['classes'] == ('dog', )
    all_ds = FewShotCocoDataset(ann_file=ann, classes='ALL_CLASSES', class_splits=split,
                                pipeline=[], test_mode=True)
    assert all_ds.metainfo['classes'] == ('cat', 'bird', 'dog')


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(classes='SOME_CLASSES'), ValueError, 'SOME_CLASSES'),
    (dict(classes=('cat', 'horse')), ValueError, "horse.*ann.json"),
    (dict(ann_file='missing.json'), FileNotFoundError, 'missing.json'),
    (dict(metainfo=dict(classes=('cat', ))), ValueError, 'classes='),
    (dict(few_shot_ann=dict(shot=3)), ValueError, 'root'),
    (dict(min_bbox_area=-1), ValueError, 'min_bbox_area'),
])
def test_bad_arguments(tmp_path, kwargs, error, message):
    args = dict(ann_file=hand_made_coco(tmp_path), classes=('cat', 'dog'),
                pipeline=[], test_mode=True)
    args.update(kwargs)
    if 'ann_file' in kwargs and kwargs['ann_file'] == 'missing.json':
        args['ann_file'] = str(tmp_path / 'missing.json')
    with pytest.raises(error, match=message):
        FewShotCocoDataset(**args)


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('shot', FSOD_SHOTS)
def test_tfa_files_round_trip(fsod_toy_root, seed, shot):
    """The dataset holds exactly the instances of the TFA files, merged per
    image; every class has exactly K of them."""
    cfg = fsod_toy_config('fine-tuning', fsod_toy_root)
    ds_cfg = cfg.train_dataloader.dataset.dataset
    ds_cfg.few_shot_ann.update(shot=shot, seed=seed)
    ds_cfg.pop('type')
    ds_cfg.pop('generate')
    from mmfsod.detection.datasets import ToyShapesDataset
    ds = ToyShapesDataset(**ds_cfg)
    expected, images = {}, {}
    classes = ds.metainfo['classes']
    for name in classes:
        path = osp.join(seed_dir(osp.join(fsod_toy_root, 'few_shot_ann'), seed),
                        split_file_name(shot, name))
        with open(path) as f:
            part = json.load(f)
        for ann in part['annotations']:
            expected[ann['id']] = (ann['image_id'], name)
        images.update({img['id']: img['file_name'] for img in part['images']})
    got = {}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert osp.basename(info['img_path']) == osp.basename(images[info['img_id']])
        for inst in info['instances']:
            got[inst['ann_id']] = (info['img_id'], classes[inst['bbox_label']])
    assert got == expected
    counts = np.bincount([classes.index(n) for _, n in got.values()],
                         minlength=len(classes))
    assert (counts == shot).all()
    assert len(ds) == len(images)  # merged per image, no duplicates


def test_missing_few_shot_file_names_tool(fsod_toy_root):
    cfg = fsod_toy_config('fine-tuning', fsod_toy_root)
    ds_cfg = cfg.train_dataloader.dataset.dataset
    ds_cfg.few_shot_ann.update(shot=10)
    ds_cfg.pop('type')
    from mmfsod.detection.datasets import ToyShapesDataset
    with pytest.raises(FileNotFoundError,
                       match='full_box_10shot_red_circle_trainval.json.*prepare_few_shot'):
        ToyShapesDataset(**ds_cfg)


def test_corrupt_image_names_file(tmp_path):
    from mmcv.transforms import LoadImageFromFile
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'not a jpeg at all')
    with pytest.raises(Exception, match='bad.jpg'):
        LoadImageFromFile()(dict(img_path=str(bad)))
    with pytest.raises(FileNotFoundError, match='gone.jpg'):
        LoadImageFromFile()(dict(img_path=str(tmp_path / 'gone.jpg')))
