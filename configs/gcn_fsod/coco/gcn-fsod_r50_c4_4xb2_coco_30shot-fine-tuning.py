# GCN-FSOD 30-shot fine-tuning: 3,000 iterations, lr / 10 for the last 1,000.
_base_ = ['./gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=30))))
train_cfg = dict(max_iters=3000, val_interval=3000)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=3000, milestones=[2000],
         gamma=0.1)
]
