# The toy Faster R-CNN config shrunk for tests: 8 training images of at most
# 160 px, batch 2, no workers, 2 iterations. MMFSOD_TEST_TOY_ROOT (set by
# tests/conftest.py) says where the tiny toy set lives.
_base_ = ['../../../configs/faster_rcnn/faster-rcnn_r18_fpn_toy-shapes.py']

data_root = '{{$MMFSOD_TEST_TOY_ROOT:data/toy_shapes_tiny/}}'
toy_generate = dict(num_train=8, num_val=4, min_size=128, max_size=160, seed=0)
img_scale = (160, 160)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=toy_generate, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=toy_generate, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
