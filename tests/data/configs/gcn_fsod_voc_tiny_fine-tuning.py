# The toy-VOC GCN-FSOD 10-shot fine-tuning config shrunk for tests: the 2-shot
# VOC files (seed 0) of the 40-image toy VOC set (MMFSOD_TEST_TOY_VOC_ROOT),
# at most 160 px, 3 iterations; load_from is given on the command line.
_base_ = ['../../../configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-voc_10shot-fine-tuning.py',
          './_toy_voc_tiny_data.py']

data_root = '{{$MMFSOD_TEST_TOY_VOC_ROOT:data/toy_voc_tiny/}}'
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                              few_shot_ann=dict(shot=2, seed=0),
                              pipeline={{_base_.tiny_train_pipeline}})))
test_dataloader = dict(
    batch_size=6, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                 pipeline={{_base_.tiny_test_pipeline}}))

load_from = None
max_iters = 3
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# no validation while training (tools/test.py evaluates): a third of the time
val_cfg = None
val_dataloader = None
val_evaluator = None
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
