# TFA's novel-only fine-tuning, 30 shots (its
# faster_rcnn_R_101_FPN_ft_novel_30shot.yaml: lr 0.01, 6,000 iterations).
_base_ = ['./tfa_r101_fpn_8xb2_coco_10shot-novel-fine-tuning.py']
train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=30))))
max_iters = 6000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
