# TFA w/cos, 5-shot fine-tuning on VOC split 1 (TFA's split1/
# faster_rcnn_R_101_FPN_ft_all1_5shot.yaml: lr 0.001, 20000 iterations,
# lr / 10 at 18000, a 10-iteration warm-up); otherwise as the 10-shot config.
_base_ = ['./tfa-cos_r101_fpn_8xb2_voc-split1_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=5))))
train_cfg = dict(max_iters=20000, val_interval=20000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=20000, milestones=[18000],
         gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=5000))
