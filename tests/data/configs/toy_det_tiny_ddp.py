# toy_det_tiny.py made deterministic for comparing a 2-rank run with one
# process: batch 1 per rank, no random flip, the RPN and RoI samplers take
# every candidate (no random subsampling), a constant learning rate, and each
# rank's final parameters written by SaveRankParamsHook (tests/data/, on
# PYTHONPATH). One process matches 2 ranks with accumulative_counts=2: the
# mean of 2 micro-batch gradients is DDP's all-reduced mean.
_base_ = ['./toy_det_tiny.py']

custom_imports = dict(imports=['mmfsod.detection', 'rank_params_hook'],
                      allow_failed_imports=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale={{_base_.img_scale}}, keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
model = dict(train_cfg=dict(rpn=dict(sampler=dict(num=10 ** 6)),
                            rcnn=dict(sampler=dict(num=10 ** 6))))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
train_cfg = dict(max_iters=2, val_interval=1000)
custom_hooks = [dict(type='SaveRankParamsHook')]
