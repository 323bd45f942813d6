# GCN-FSOD 2-shot fine-tuning on VOC split 1 (20-way test): as the 10-shot
# config, 100 iterations (50 x K), lr / 10 after 65%.
_base_ = ['./gcn-fsod_r50_c4_4xb2_voc-split1_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=2))))
train_cfg = dict(max_iters=100, val_interval=100)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=100, milestones=[65],
         gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=100))
