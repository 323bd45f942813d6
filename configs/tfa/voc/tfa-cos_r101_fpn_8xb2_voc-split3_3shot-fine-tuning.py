# TFA w/cos, 3-shot fine-tuning on VOC split 3 (TFA's split3/
# faster_rcnn_R_101_FPN_ft_all3_3shot.yaml: lr 0.001, 12000 iterations,
# lr / 10 at 11000, a 10-iteration warm-up); otherwise as the 10-shot config.
_base_ = ['./tfa-cos_r101_fpn_8xb2_voc-split3_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=3))))
train_cfg = dict(max_iters=12000, val_interval=12000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=12000, milestones=[11000],
         gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=3000))
