# Faster R-CNN R18-FPN shrunk for the toy shapes sets on a CPU, trained from
# scratch (no ImageNet weights can be downloaded here). Shared by the plain
# toy detector (configs/faster_rcnn/) and the TFA baseline (configs/tfa/toy/).
_base_ = ['./faster-rcnn_r18_fpn.py']

model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must learn too
        init_cfg=None),   # no ImageNet weights can be downloaded here
    neck=dict(out_channels=128),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        # toy objects are 12-115 px: anchors of 16-256 px
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # a fixed sampling ratio: the adaptive one (0) makes mmcv's CPU RoIAlign
        # sample large RoIs densely and costs ~20% of a training step
        bbox_roi_extractor=dict(out_channels=128, roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(in_channels=128, fc_out_channels=256, num_classes=12)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),  # at most 5 objects per toy image
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
