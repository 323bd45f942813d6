# TFA base training on VOC (TFA's configs/PascalVOC-detection/split{1,2,3}/
# faster_rcnn_R_101_FPN_base{N}.yaml, the same for the three splits): SGD,
# batch 16, lr 0.02, momentum 0.9, weight decay 1e-4, 18k iterations
# (17.4 epochs of VOC07+12 trainval), lr / 10 at 12k and 16k, linear warm-up
# over 100 iterations from 0.001x.
max_iters = 18000
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=max_iters, val_interval=6000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[12000, 16000], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
# lr is for a total batch of 16 (8 GPUs x 2); --auto-scale-lr rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=16)
