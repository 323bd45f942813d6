# GCN-FSOD base training (paper, sec. 4.1): SGD, batch 8 (4 GPUs x 2),
# lr 0.002, 120k iterations, lr / 10 for the last 8k. The paper gives no
# warm-up, momentum or weight decay: 500-iteration linear warm-up, momentum
# 0.9 and weight decay 1e-4 (mmdet's defaults) are ours.
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=120000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=120000, milestones=[112000],
         gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=0.0001))
# lr is for a total batch of 8; tools/train.py --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=8)
