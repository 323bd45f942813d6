# The toy-VOC GCN-FSOD base-training config shrunk for tests: the 40-image
# toy VOC set (MMFSOD_TEST_TOY_VOC_ROOT), at most 160 px, batch 2, no workers,
# 3 iterations, 2-shot pairs, 2 templates per base class.
_base_ = ['../../../configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-voc_base-training.py',
          './_toy_voc_tiny_data.py']

data_root = '{{$MMFSOD_TEST_TOY_VOC_ROOT:data/toy_voc_tiny/}}'
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_support_shots=2,
                 dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                              pipeline={{_base_.tiny_train_pipeline}})))
test_dataloader = dict(
    batch_size=6, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate={{_base_.tiny_generate}},
                 pipeline={{_base_.tiny_test_pipeline}}))

max_iters = 3
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# no validation while training (tools/test.py evaluates): a third of the time
val_cfg = None
val_dataloader = None
val_evaluator = None
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='SupportTemplateHook', num_shots=2, seed=0,
                     support_pipeline={{_base_.support_pipeline}})]
