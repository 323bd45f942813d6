# GCN-FSOD base training on the toy shape-combination set (60 base / 12
# novel classes; _base_/datasets/fsod_toy-combos_base-training.py): the toy
# base training with 5x the base classes, so that matching supports is
# learnt across many classes. Its model is tested on the novel classes with
# novel supports and no fine-tuning (./gcn-fsod_r18_c4_toy-combos_novel-test.py).
_base_ = [
    '../../_base_/models/gcn-fsod_r18_c4_toy.py',
    '../../_base_/datasets/fsod_toy-combos_base-training.py',
    '../../_base_/schedules/schedule_gcn-fsod_base-training.py',
    '../../_base_/default_runtime_det.py'
]
# the toy base training's schedule and optimiser
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[int(max_iters * 0.85)], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
