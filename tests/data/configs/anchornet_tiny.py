# The toy AnchorNet config shrunk for tests: 12 training images of 128 px
# (MMFSOD_TEST_CLUTTER_ROOT, written by the tests), batch 4, no workers,
# 3 epochs with a checkpoint after each, no validation before the end.
_base_ = ['../../../configs/anchornet/toy/anchornet_toy-clutter.py']

data_root = '{{$MMFSOD_TEST_CLUTTER_ROOT:data/toy_clutter_tiny/}}'
clutter_generate = dict(num_train=12, num_val=6, num_holdout=0, num_classes=6, img_size=128,
                        seed=0)

train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=clutter_generate))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, generate=clutter_generate))
test_dataloader = val_dataloader

max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs,
         eta_min=0.00006, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=-1))
