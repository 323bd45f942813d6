# The toy GCN-FSOD base-training config shrunk for tests: the 40-image toy
# set of tests/conftest.py (MMFSOD_TEST_FSOD_ROOT), at most 160 px, batch 2,
# no workers, 3 iterations, 2-shot pairs, 2 templates per base class.
_base_ = ['../../../configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py',
          './_gcn_fsod_tiny_data.py']

data_root = '{{$MMFSOD_TEST_FSOD_ROOT:data/toy_shapes_fsod_tiny/}}'
toy_generate = {{_base_.tiny_generate}}
img_scale = {{_base_.tiny_img_scale}}
train_pipeline = {{_base_.tiny_train_pipeline}}
test_pipeline = {{_base_.tiny_test_pipeline}}
# 2 shots instead of the config's 10: K-shot pairs at a tenth of the cost
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_support_shots=2,
                 dataset=dict(data_root=data_root, generate=toy_generate,
                              pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=toy_generate,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_iters = 3
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='SupportTemplateHook', num_shots=2, seed=0,
                     support_pipeline={{_base_.support_pipeline}})]
