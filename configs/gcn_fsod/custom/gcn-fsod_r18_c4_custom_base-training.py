# GCN-FSOD base training on your own data (edit custom_dataset.py only):
# query-support pairs of the base classes, 1,000 iterations of batch 2, the
# toy ResNet-18 C4 model from scratch with anchors for larger objects.
# Tested on the base classes with 10 sampled templates per class.
# From your own folder: inherit this file by package,
#   _base_ = 'mmfsod::gcn_fsod/custom/gcn-fsod_r18_c4_custom_base-training.py'
# and set the keys of custom_dataset.py's first block (data_root,
# base_classes, novel_classes, ...): every derived field follows them.
_base_ = [
    '../../_base_/models/gcn-fsod_r18_c4_toy.py',
    './custom_dataset.py',
    '../../_base_/schedules/schedule_gcn-fsod_base-training.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(rpn_head=dict(anchor_generator=dict(scales=[2, 4, 8, 16])))  # 32-256 px

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset={{_base_.base_train_dataset}})
val_dataloader = dict(dataset=dict(classes='BASE_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(_delete_=True, base='${base_classes}'))
test_evaluator = val_evaluator

max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=10, seed=0,
         support_pipeline={{_base_.support_pipeline}})
]
