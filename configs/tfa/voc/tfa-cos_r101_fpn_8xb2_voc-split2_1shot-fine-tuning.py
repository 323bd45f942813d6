# TFA w/cos, 1-shot fine-tuning on VOC split 2 (TFA's split2/
# faster_rcnn_R_101_FPN_ft_all2_1shot.yaml: lr 0.005, 4000 iterations,
# lr / 10 at 3500, no warm-up); otherwise as the 10-shot config.
_base_ = ['./tfa-cos_r101_fpn_8xb2_voc-split2_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=1))))
train_cfg = dict(max_iters=4000, val_interval=4000)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=4000, milestones=[3500],
         gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=1000))
