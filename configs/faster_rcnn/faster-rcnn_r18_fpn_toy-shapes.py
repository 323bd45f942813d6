# A plain (not few-shot) Faster R-CNN R18-FPN on the 12-category toy shapes
# set, trained from scratch on a CPU in a few minutes. It exercises the whole
# tool chain: data generation -> tools/train.py -> tools/test.py -> COCO table.
_base_ = [
    '../_base_/models/faster-rcnn_r18_fpn_toy.py',
    '../_base_/datasets/toy_shapes_detection.py',
    '../_base_/schedules/schedule_toy_det.py',
    '../_base_/default_runtime_det.py',
]

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=300))
