# GCN-FSOD base training on the toy shapes set in VOC's layout (XML, image
# sets, `difficult` boxes; written under data/toy_voc/ on first use): the
# toy COCO config ./gcn-fsod_r18_c4_toy_base-training.py (model, 1,000
# iterations of batch 2) on the VOC reading, tested on the base classes with
# VOC07 11-point AP50 (FewShotVOCMetric).
#   python tools/train.py configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-voc_base-training.py
_base_ = [
    '../../_base_/models/gcn-fsod_r18_c4_toy.py',
    '../../_base_/datasets/fsod_toy-voc_base-training.py',
    '../../_base_/schedules/schedule_gcn-fsod_base-training.py',
    '../../_base_/default_runtime_det.py'
]
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
# from scratch (GroupNorm): a larger lr than the paper's 0.002 (ImageNet init)
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
