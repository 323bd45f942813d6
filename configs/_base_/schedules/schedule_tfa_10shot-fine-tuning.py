# TFA fine-tuning on COCO, 10 shots (TFA's configs/COCO-detection/
# faster_rcnn_R_101_FPN_ft_all_10shot.yaml): SGD, batch 16, lr 0.001,
# 160k iterations, lr / 10 at 144k, a 10-iteration warm-up (detectron2's
# linear warm-up from 0.001x); momentum and weight decay as at base training.
max_iters = 160000
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[144000], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
