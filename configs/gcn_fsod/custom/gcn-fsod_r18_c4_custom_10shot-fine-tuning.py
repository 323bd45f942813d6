# GCN-FSOD 10-shot fine-tuning on your own data (edit custom_dataset.py only)
# from the base-training checkpoint: every class, the K-shot files of seed 0;
# the K-shot instances become the test templates (recorded in the
# checkpoint). Tested on every class: AP / AR of the novel and base groups.
# From your own folder: inherit this file by package,
#   _base_ = 'mmfsod::gcn_fsod/custom/gcn-fsod_r18_c4_custom_10shot-fine-tuning.py'
# and set the keys of custom_dataset.py's first block (data_root,
# base_classes, novel_classes, ...): every derived field follows them.
_base_ = [
    '../../_base_/models/gcn-fsod_r18_c4_toy.py',
    './custom_dataset.py',
    '../../_base_/schedules/schedule_gcn-fsod_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
load_from = 'work_dirs/gcn-fsod_r18_c4_custom_base-training/iter_1000.pth'
# frozen at fine-tuning: the stem and the first two stages
model = dict(backbone=dict(frozen_stages=2),
             rpn_head=dict(anchor_generator=dict(scales=[2, 4, 8, 16])))

train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset={{_base_.fine_tune_dataset}})

max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.65)], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.005), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=None,
         support_pipeline={{_base_.support_pipeline}}),
    dict(type='TPFPVisualizationHook', num_images=8, score_thr=0.3,
         novel_classes='${novel_classes}')
]
