# The GCN-FSOD model shrunk for the toy benchmark on a 2-core CPU: ResNet-18
# C4 from scratch (no pretrained weights here), RoI features taken on res4
# directly (no res5 shared head: on the CPU it would cost ~10x more per RoI),
# smaller anchors, fewer proposals and RoIs. Same modules as the COCO model.
#
# GroupNorm, not BatchNorm: trained from scratch, BN's running statistics mix
# two input distributions (whole query images and zero-padded support crops,
# which go through the backbone in separate batches), so the eval-mode
# features differ from the training-mode ones: with BN the toy base model
# scored ground-truth boxes of the right class 0.55 in train mode and 0.04 in
# eval mode. GN has no running statistics. (The COCO model keeps ImageNet BN
# statistics frozen, norm_eval=True, and has no such gap.)
_base_ = ['./gcn-fsod_r50_c4.py']

model = dict(
    backbone=dict(depth=18, frozen_stages=-1,
                  norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
                  norm_eval=False, init_cfg=None),
    rpn_head=dict(
        in_channels=256,
        feat_channels=128,
        graph=dict(hidden_channels=128),
        anchor_generator=dict(scales=[1, 2, 4, 8], strides=[16])),
    roi_head=dict(
        shared_head=None,
        bbox_roi_extractor=dict(
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            out_channels=256),
        bbox_head=dict(in_channels=256, roi_feat_size=7, embed_channels=128,
                       reg_convs=(128, ))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=50)))
