# GCN-FSOD 10-shot fine-tuning (paper, sec. 4.1): 2,000 iterations, lr 0.001,
# lr / 10 for the last 700. Batch 8 in total; no warm-up (the model is trained).
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=2000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=2000, milestones=[1300],
         gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=8)
