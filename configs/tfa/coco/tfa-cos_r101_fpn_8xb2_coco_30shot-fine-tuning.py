# TFA w/cos, 30 shots (TFA's faster_rcnn_R_101_FPN_ft_all_30shot.yaml:
# lr 0.001, 240k iterations, lr / 10 at 216k, checkpoints every 12k). Its
# starting point: as for 10 shots, with the 30-shot novel-only model
# (./tfa_r101_fpn_8xb2_coco_30shot-novel-fine-tuning.py) for combine.
_base_ = ['./tfa-cos_r101_fpn_8xb2_coco_10shot-fine-tuning.py']
train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=30))))
max_iters = 240000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[216000], gamma=0.1)
]
load_from = 'work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000_combine_30shot.pth'
default_hooks = dict(checkpoint=dict(interval=12000))
