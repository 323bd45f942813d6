# GCN-FSOD 30-shot fine-tuning: 3,000 iterations, lr / 10 for the last 1,000.
# 80-way test (TFA's protocol); the paper's "30-shot 20-way":
# ./gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning_20way-novel-test.py.
_base_ = ['./gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=30))))
train_cfg = dict(max_iters=3000, val_interval=3000)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=3000, milestones=[2000],
         gamma=0.1)
]
