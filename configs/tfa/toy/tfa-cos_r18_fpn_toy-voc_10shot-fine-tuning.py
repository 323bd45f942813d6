# TFA w/cos, 10-shot fine-tuning on all 12 classes of the toy shapes set in
# VOC's layout (TFA's VOC K-shot files of seed 0, see
# _base_/datasets/fsod_toy-voc_fine-tuning.py for the command): the toy COCO
# config ./tfa-cos_r18_fpn_toy_10shot-fine-tuning.py on the VOC reading,
# tested 12-way with VOC07 11-point AP50 of the novel / base / all classes.
#   python tools/misc/ckpt_surgery.py randinit \
#       work_dirs/tfa_r18_fpn_toy-voc_base-training/iter_1000.pth \
#       --config configs/tfa/toy/tfa-cos_r18_fpn_toy-voc_10shot-fine-tuning.py \
#       --out work_dirs/tfa_r18_fpn_toy-voc_base-training/iter_1000_randinit.pth
#   python tools/train.py configs/tfa/toy/tfa-cos_r18_fpn_toy-voc_10shot-fine-tuning.py
_base_ = [
    '../../_base_/models/faster-rcnn_r18_fpn_toy.py',
    '../../_base_/datasets/tfa_toy-voc_fine-tuning.py',
    '../../_base_/schedules/schedule_toy_det.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(
    type='TFA',  # everything frozen but roi_head.bbox_head.fc_cls / fc_reg
    backbone=dict(frozen_stages=4, norm_eval=True),
    roi_head=dict(bbox_head=dict(type='CosineSimBBoxHead', scale=20.0, num_classes=12)))
load_from = 'work_dirs/tfa_r18_fpn_toy-voc_base-training/iter_1000_randinit.pth'

max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.8)], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
