# GCN-FSOD 3-shot fine-tuning on VOC split 3 (20-way test): as the 10-shot
# config, 150 iterations (50 x K), lr / 10 after 65%.
_base_ = ['./gcn-fsod_r50_c4_4xb2_voc-split3_10shot-fine-tuning.py']

train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=3))))
train_cfg = dict(max_iters=150, val_interval=150)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=150, milestones=[98],
         gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=150))
