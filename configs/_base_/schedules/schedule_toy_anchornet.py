# AnchorNet on the toy clutter set on a CPU: 20 epochs of 600 images at batch
# 16 (38 iterations an epoch, 760 in all), AdamW with one warm-up epoch and a
# cosine decay. Measured with configs/anchornet/toy/anchornet_toy-clutter.py:
# val top-1 0.725 after 12 epochs (lr 0.004), 0.80 after 16 (lr 0.008), 0.925
# after these 20 (lr 0.006); the accuracy rises mostly while the lr decays.
max_epochs = 20
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=4)
val_cfg = dict()
test_cfg = dict()

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.006, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs,
         eta_min=0.00006, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
