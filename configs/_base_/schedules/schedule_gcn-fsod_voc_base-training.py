# GCN-FSOD base training on VOC: the paper gives only its COCO schedule
# (./schedule_gcn-fsod_base-training.py: 120k iterations of batch 8, lr 0.002,
# lr / 10 for the last 8k); on VOC it is scaled as TFA scales its own from
# COCO to VOC (110k -> 18k iterations at the same batch and lr, x 0.164):
# 120k x 0.164 = 19.6k -> 20k iterations of batch 8 (about 10 passes over the
# ~15k base-class images of VOC07+12 trainval, as 120k x 8 are about 10
# passes over COCO's ~98k base images), lr / 10 for the last 1.3k (8k / 120k
# of it). Warm-up, momentum and weight decay as on COCO.
max_iters = 20000
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[18700],
         gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=8)
