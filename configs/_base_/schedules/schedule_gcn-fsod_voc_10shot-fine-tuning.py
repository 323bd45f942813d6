# GCN-FSOD 10-shot fine-tuning on VOC, scaled from the paper's COCO 10-shot
# schedule (./schedule_gcn-fsod_10shot-fine-tuning.py: 2,000 iterations of
# batch 8, lr 0.001, lr / 10 after 65%) as TFA scales its fine-tuning from
# COCO to VOC: TFA's VOC K-shot runs are 4,000 x K iterations against 160k at
# COCO 10-shot (K / 40 of it, same batch and lr), so GCN-FSOD's are
# 2,000 x K / 40 = 50 x K: 500 at 10 shots. Both keep the passes over the
# K-shot images (~20: 20 x K VOC images, 800 COCO ones). lr / 10 after 65%.
max_iters = 500
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[325],
         gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=8)
