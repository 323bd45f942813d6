# TFA w/cos fine-tuning on VOC, 10 shots, splits 1 and 3 (TFA's
# configs/PascalVOC-detection/split{1,3}/faster_rcnn_R_101_FPN_ft_all{N}_10shot.yaml):
# SGD, batch 16, lr 0.001, 40k iterations, lr / 10 at 36k, a 10-iteration
# warm-up (detectron2's linear warm-up from 0.001x); momentum and weight decay
# as at base training. TFA's VOC fine-tuning length grows with the shots
# (4k x K iterations); its split 2 uses lr 0.005 and other steps (the
# configs/tfa/voc/*split2* leaves say which).
max_iters = 40000
train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[36000], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
