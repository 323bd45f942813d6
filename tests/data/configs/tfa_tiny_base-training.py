# The toy TFA base-training config shrunk for tests: the 40-image toy set of
# tests/conftest.py (MMFSOD_TEST_FSOD_ROOT), at most 160 px, batch 2, no
# workers, 3 iterations.
_base_ = ['../../../configs/tfa/toy/tfa_r18_fpn_toy_base-training.py',
          './_gcn_fsod_tiny_data.py']

data_root = '{{$MMFSOD_TEST_FSOD_ROOT:data/toy_shapes_fsod_tiny/}}'
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                              pipeline={{_base_.tiny_train_pipeline}})))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                 pipeline={{_base_.tiny_test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_iters = 3
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
