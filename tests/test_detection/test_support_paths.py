"""Support boxes partly outside their image (clipped and kept, as training
keeps them) and the folder a support json's ``file_name`` is relative to
(the config's image folder, the documented ``images/`` layout)."""
import json
import logging
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import mmfsod.detection  # noqa: F401  (registers the transforms)
from mmfsod.detection.apis import (build_supports, config_image_dirs, image_dir_candidates,
                                   load_support_set)
from mmfsod.detection.apis.supports import check_box

SUPPORT_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CropSupportInstance', context=0.0),
    dict(type='Resize', scale=(32, 32), keep_ratio=True),
    dict(type='Pad', size=(32, 32), pad_val=dict(img=0)),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_shape', 'scale_factor'))]


def test_check_box_clips_partly_outside_and_refuses_nothing_left():
    assert check_box([-5, 10, 30, 70], 60, 40, 'a') == [0., 10., 30., 60.]
    assert check_box([1, 2, 3, 4], 60, 40, 'a') == [1., 2., 3., 4.]  # inside: as is
    with pytest.raises(ValueError, match=r'^s.json: annotation 3: box \[50.0, .* is outside '
                       r'its image \(40 x 60 .*nothing is left'):
        check_box([50, 0, 60, 10], 60, 40, 's.json: annotation 3')
    with pytest.raises(ValueError, match='zero area'):
        check_box([5, 5, 5, 9], 60, 40, 'a')
    with pytest.raises(ValueError, match='zero area'):
        check_box([-9, 5, -9, 9], 60, 40, 'a')


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_partly_outside_support_is_the_training_crop():
    """Clipped and kept: the support equals what the training pipeline cuts
    out for the unclipped box (CropSupportInstance clips to the image)."""
    img = np.random.default_rng(0).integers(0, 255, (60, 40, 3), dtype=np.uint8)
    box = [-6.0, 12.0, 25.0, 75.0]  # out on the left and at the bottom
    support_set = {'cog': [dict(img=img, img_path=None, bbox=list(box), img_id=0,
                                ann_id=7, where='supports[0] (array), box 0')]}
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    try:
        inputs, info = build_supports(support_set, SUPPORT_PIPELINE)[0]
    finally:
        logger.removeHandler(handler)
    assert support_set['cog'][0]['bbox'] == [0.0, 12.0, 25.0, 60.0]
    assert [m for m in handler.lines if 'clipped' in m] == [
        '1 support box(es) partly outside their image clipped to it and kept, e.g. '
        'supports[0] (array), box 0']
    with DefaultScope.overwrite_default_scope('mmdet'):
        train = Compose(SUPPORT_PIPELINE[1:])(dict(
            img=img, img_shape=(60, 40), ori_shape=(60, 40), img_id=0, img_path=None,
            instances=[dict(bbox=box, bbox_label=0, ignore_flag=0)]))
    assert torch.equal(inputs[0], train['inputs'])
    torch.testing.assert_close(info.bboxes[0], train['data_samples'].gt_instances.bboxes
                               .tensor[0])


def _layout(tmp_path):
    """docs/custom_dataset.md's layout: ROOT/images/<sub>/..., ROOT/annotations/."""
    root = tmp_path / 'my_dataset'
    (root / 'images' / 'train').mkdir(parents=True)
    (root / 'annotations').mkdir()
    mmcv.imwrite(np.full((40, 50, 3), 90, np.uint8), str(root / 'images' / 'train' / 'a.jpg'))
    coco = dict(images=[dict(id=31, file_name='train/a.jpg', height=40, width=50)],
                annotations=[dict(id=4, image_id=31, category_id=17, bbox=[30, 5, 40, 20],
                                  iscrowd=0)],
                categories=[dict(id=17, name='cog')])
    path = root / 'annotations' / 'supports.json'
    path.write_text(json.dumps(coco))
    return root, str(path)


def test_support_images_found_in_the_documented_layout(tmp_path):
    root, path = _layout(tmp_path)
    assert image_dir_candidates(path)[:2] == [str(root / 'images'), str(root)]
    support_set = load_support_set(path)
    rec = support_set['cog'][0]
    assert rec['img_path'] == str(root / 'images' / 'train' / 'a.jpg')
    build_supports(support_set, SUPPORT_PIPELINE)  # box partly outside: clipped
    assert rec['bbox'] == [30.0, 5.0, 50.0, 25.0]
    # the config's image folder comes first
    other = tmp_path / 'other'
    (other / 'train').mkdir(parents=True)
    mmcv.imwrite(np.zeros((40, 50, 3), np.uint8), str(other / 'train' / 'a.jpg'))
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        data_root=str(tmp_path) + '/', data_prefix=dict(img='other/'))),
        train_dataloader=dict(dataset=dict(type='QuerySupportDataset', dataset=dict(
            data_root='data/x/', data_prefix=dict(img='images/'))))))
    dirs = config_image_dirs(cfg)
    assert dirs == [str(tmp_path) + '/other/', 'data/x/images/']
    rec = load_support_set(path, config_dirs=dirs)['cog'][0]
    assert rec['img_path'] == str(other / 'train' / 'a.jpg')
    # an explicit folder is taken as given
    rec = load_support_set(path, img_dir=str(other))['cog'][0]
    assert osp.dirname(osp.dirname(rec['img_path'])) == str(other)


def test_support_images_nowhere_is_one_line_naming_the_flag(tmp_path):
    root, path = _layout(tmp_path)
    (root / 'images' / 'train' / 'a.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r'supports.json: its images \(train/a.jpg, '
                       r'...\) are not under any of .*--support-img-dir$'):
        load_support_set(path)
