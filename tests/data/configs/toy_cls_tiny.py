# Plumbing check of the classification side before AnchorNet exists: the toy
# clutter dataset, runtime and schedule with mmpretrain's ResNet-18 (narrowed),
# 12 training images of 96 px, batch 4, no workers, 1 epoch.
# MMFSOD_TEST_CLUTTER_ROOT (set by the tests) says where the tiny set lives.
_base_ = [
    '../../../configs/_base_/default_runtime_cls.py',
    '../../../configs/_base_/datasets/toy_clutter_cls.py',
    '../../../configs/_base_/schedules/schedule_toy_cls.py',
]

data_root = '{{$MMFSOD_TEST_CLUTTER_ROOT:data/toy_clutter_tiny/}}'
clutter_generate = dict(num_train=12, num_val=6, num_holdout=0, num_classes=6, img_size=96,
                        min_scale=0.2, max_scale=0.4, seed=0)

model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, base_channels=16, stem_channels=16,
                  num_stages=4, out_indices=(3, ), style='pytorch', init_cfg=None),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=6, in_channels=128,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))

train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=clutter_generate))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=clutter_generate))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
