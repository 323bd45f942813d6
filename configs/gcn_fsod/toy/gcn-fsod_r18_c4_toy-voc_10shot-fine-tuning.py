# GCN-FSOD toy-VOC 10-shot fine-tuning on all 12 classes (TFA's VOC K-shot
# files of seed 0, see _base_/datasets/fsod_toy-voc_fine-tuning.py for the
# command), from the toy-VOC base-training checkpoint; schedule of the toy
# COCO config ./gcn-fsod_r18_c4_toy_10shot-fine-tuning.py; tested 12-way
# with VOC07 11-point AP50 of the novel / base / all classes.
#   python tools/train.py configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-voc_10shot-fine-tuning.py
# Another shot or seed:
#   train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=5, seed=1))))
_base_ = [
    '../../_base_/models/gcn-fsod_r18_c4_toy.py',
    '../../_base_/datasets/fsod_toy-voc_fine-tuning.py',
    '../../_base_/schedules/schedule_gcn-fsod_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
load_from = 'work_dirs/gcn-fsod_r18_c4_toy-voc_base-training/iter_1000.pth'

# frozen as in the toy COCO config: the stem and the first two stages
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
