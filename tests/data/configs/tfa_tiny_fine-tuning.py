# The toy TFA w/cos 10-shot fine-tuning config shrunk for tests: the 2-shot
# files (seed 0) of the 40-image toy set of tests/conftest.py
# (MMFSOD_TEST_FSOD_ROOT), at most 160 px, 3 iterations; load_from is given
# on the command line.
_base_ = ['../../../configs/tfa/toy/tfa-cos_r18_fpn_toy_10shot-fine-tuning.py',
          './_gcn_fsod_tiny_data.py']

data_root = '{{$MMFSOD_TEST_FSOD_ROOT:data/toy_shapes_fsod_tiny/}}'
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                              few_shot_ann=dict(shot=2, seed=0),
                              pipeline={{_base_.tiny_train_pipeline}})))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                 pipeline={{_base_.tiny_test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

load_from = None
max_iters = 3
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
# 3 iterations leave every score under mmdet's 0.05: keep them all, so that
# the test table has detections to evaluate
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.0)))
