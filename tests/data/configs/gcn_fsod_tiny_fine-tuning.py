# The toy GCN-FSOD 10-shot fine-tuning config shrunk for tests: 2-shot files
# (seed 0) of the 40-image toy set of tests/conftest.py
# (MMFSOD_TEST_FSOD_ROOT), at most 160 px, 3 iterations; load_from is given
# on the command line.
_base_ = ['../../../configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_10shot-fine-tuning.py',
          './_gcn_fsod_tiny_data.py']

data_root = '{{$MMFSOD_TEST_FSOD_ROOT:data/toy_shapes_fsod_tiny/}}'
toy_generate = {{_base_.tiny_generate}}
img_scale = {{_base_.tiny_img_scale}}
train_pipeline = {{_base_.tiny_train_pipeline}}
test_pipeline = {{_base_.tiny_test_pipeline}}
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(data_root=data_root, generate=toy_generate,
                              few_shot_ann=dict(shot=2, seed=0),
                              pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=toy_generate,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

load_from = None
max_iters = 3
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
