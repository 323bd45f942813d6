# A short epoch-based schedule for the toy clutter set on a CPU (600 images,
# batch 32: 19 iterations an epoch).
max_epochs = 12
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=4)
val_cfg = dict()
test_cfg = dict()

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs,
         eta_min=0.0005, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
