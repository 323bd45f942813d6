# AnchorNet on the toy clutter set (6 classes, 224 x 224, one labelled object
# among distractors): the paper's layout and geometry (same kernels and
# strides: B63 / B95 / B111 maps of 21 / 17 / 15 at 224) at a quarter of the
# width, so that `python tools/train.py` trains it in a few minutes on a
# 2-core CPU: 6 min 45 s for the 20 epochs on the project's shared machine
# (OMP_NUM_THREADS=1, other jobs running), val top-1 0.925 (chance 0.167).
_base_ = [
    '../../_base_/models/anchornet.py',
    '../../_base_/datasets/toy_clutter_cls.py',
    '../../_base_/schedules/schedule_toy_anchornet.py',
    '../../_base_/default_runtime_cls.py',
]

widen_factor = 0.25
model = dict(
    backbone=dict(
        widen_factor=widen_factor,
        # BN momentum 0.1 instead of MobileNetV3's 0.01: with a few hundred
        # iterations in all, 0.01 leaves the running statistics (used at
        # test) far from the data's.
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.1)),
    # make_divisible(96 * 0.25, 8) = 24 channels out of every branch
    head=dict(num_classes=6, in_channels=24))

# batch 16: twice the updates per epoch of the base's 32 at the same cost
# (schedule_toy_anchornet.py's learning rate is for it)
train_dataloader = dict(batch_size=16)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=4, max_keep_ckpts=1))
