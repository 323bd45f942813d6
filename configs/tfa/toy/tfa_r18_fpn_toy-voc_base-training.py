# TFA base training on the toy shapes set in VOC's layout (written under
# data/toy_voc/ on first use): the toy COCO config
# ./tfa_r18_fpn_toy_base-training.py (the toy R18-FPN from scratch, 1,000
# iterations of batch 2) on the VOC reading, tested on the 9 base classes
# with VOC07 11-point AP50 (FewShotVOCMetric).
#   python tools/train.py configs/tfa/toy/tfa_r18_fpn_toy-voc_base-training.py
# Next: ./tfa-cos_r18_fpn_toy-voc_10shot-fine-tuning.py (surgery, then fine-tuning).
_base_ = [
    '../../_base_/models/faster-rcnn_r18_fpn_toy.py',
    '../../_base_/datasets/tfa_toy-voc_base-training.py',
    '../../_base_/schedules/schedule_toy_det.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=9)))
# gradients clipped as in the GCN-FSOD toy configs: without, this run's loss
# turned NaN at iteration ~170 of 1,000 (lr 0.02, batch 2, R18 from scratch)
optim_wrapper = dict(clip_grad=dict(max_norm=10, norm_type=2))

max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
