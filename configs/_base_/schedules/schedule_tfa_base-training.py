# TFA base training on COCO (TFA's configs/COCO-detection/
# faster_rcnn_R_101_FPN_base.yaml and the detectron2 defaults it inherits):
# SGD, batch 16, lr 0.02, momentum 0.9, weight decay 1e-4, 110k iterations,
# lr / 10 at 85k and 100k, linear warm-up over 1,000 iterations from 0.001x.
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=110000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=110000,
         milestones=[85000, 100000], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
# lr is for a total batch of 16 (8 GPUs x 2); --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=16)
