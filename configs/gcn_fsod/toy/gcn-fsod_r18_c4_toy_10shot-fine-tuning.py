# GCN-FSOD toy 10-shot fine-tuning on all 12 classes (K-shot files of seed 0,
# `make toy-fsod-data` writes them), from the toy base-training checkpoint;
# tested on every class with the novel / base table (12-way, TFA's protocol;
# novel classes only: ./gcn-fsod_r18_c4_toy_10shot-fine-tuning_novel-test.py).
_base_ = [
    '../../_base_/models/gcn-fsod_r18_c4_toy.py',
    '../../_base_/datasets/fsod_toy-shapes_fine-tuning.py',
    '../../_base_/schedules/schedule_gcn-fsod_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
load_from = 'work_dirs/gcn-fsod_r18_c4_toy_base-training/iter_1000.pth'

# Frozen at fine-tuning (the paper is silent): the backbone's stem and first
# two stages; with 10 instances per class the later layers and the heads adapt.
model = dict(backbone=dict(frozen_stages=2))

max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.65)], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.005), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))

# The K-shot instances are the test templates (recorded in the checkpoint);
# at test, 8 images are drawn with true (green) / false (red) positives.
custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=None,
         support_pipeline={{_base_.support_pipeline}}),
    dict(type='TPFPVisualizationHook', num_images=8, score_thr=0.3,
         novel_classes={{_base_.toy_class_splits.NOVEL_CLASSES}})
]
