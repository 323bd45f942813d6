# AnchorNet on ImageNet-1k as in the paper (section 4.1): standard augmentation
# (He et al. 2016: random resized crop 224, horizontal flip), synchronous SGD,
# momentum 0.9, batch 256 (8 GPUs x 32), weight decay 1e-4, 100 epochs,
# lr 0.1 divided by 10 every 30 epochs; at test each image is resized to
# 224 x 224 (no centre crop).
# Data: mmpretrain's ImageNet layout under data/imagenet (train/, val/,
# meta/{train,val}.txt).
_base_ = [
    '../../_base_/models/anchornet.py',
    '../../_base_/default_runtime_cls.py',
]

# ---- dataset (mmpretrain ImageNet conventions) ----
dataset_type = 'ImageNet'
data_root = 'data/imagenet'
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,  # images are read BGR
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
# 8 workers per GPU (mmpretrain's ImageNet configs: 5 for 32 images; the
# batch per GPU grows when fewer GPUs keep the total batch of 256), pinned
# memory, workers kept across epochs.
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# top-5 comes from pred_score = the chosen branch's probabilities
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# ---- schedule ----
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90],
                       gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# lr 0.1 is for the paper's total batch of 256 (8 GPUs x 32), kept on any
# number of GPUs: tools/train.py sets 256 / N per GPU; --auto-scale-lr keeps
# 32 per GPU and scales the lr with N x 32 / 256.
auto_scale_lr = dict(base_batch_size=256, keep_total_batch=True)
# fixed input shapes (224 x 224 crops, test images resized to 224 x 224):
# cuDNN picks its fastest convolutions once
env_cfg = dict(cudnn_benchmark=True)
