# GCN-FSOD (query-support two-stage detector), ResNet-50 C4 layout as in
# Attention-RPN: res4 (stride 16, 1024 ch) feeds the lcRPN and the RoI
# extractor, res5 is the RoI head's shared head. Query and supports share the
# backbone. Classes are binary per (query, support class) pair.
norm_cfg = dict(type='BN', requires_grad=False)
pretrained = 'torchvision://resnet50'
model = dict(
    type='QuerySupportDetector',
    class_chunk=20,
    data_preprocessor=dict(
        type='QuerySupportDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2, ),
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    rpn_head=dict(
        type='LocalCorrespondenceRPNHead',
        rpn_type='lcrpn',  # Table 2: 'global_kernel' | 'lcrpn_coupled' | 'lcrpn'
        in_channels=1024,
        feat_channels=256,
        # eq. 1-2: Gaussian-kernel adjacency with temperature T over support and
        # query vectors, two graph-conv layers. chunk_size bounds the memory of
        # the N x N adjacency (None: dense).
        # T (the paper gives no value): eq. 1's exponent ||vi - vj|| /
        # (||vi|| ||vj||) shrinks as 1 / ||v||; with T = 1 a trained toy model
        # (node norms ~9) had every off-diagonal a_ij in 0.86-1.0 (mean 0.92):
        # a near-uniform graph that averages the query away, so objectness
        # could not localize. T starts at 0.05 and is learned (as log T), so
        # it follows the feature scale.
        graph=dict(type='GraphCorrespondence', hidden_channels=256, temperature=0.05,
                   learnable_temperature=True, chunk_size=None),
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[2, 4, 8, 16, 32],
            ratios=[0.5, 1.0, 2.0],
            strides=[16]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='AttentiveRoIHead',
        shared_head=dict(
            type='ResLayer',
            depth=50,
            stage=3,
            stride=2,
            dilation=1,
            style='pytorch',
            norm_cfg=norm_cfg,
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=1024,
            featmap_strides=[16]),
        bbox_head=dict(
            type='AttentiveBBoxHead',
            in_channels=2048,
            roi_feat_size=7,
            num_classes=1,  # binary: the pair's class or background
            with_global=True,  # Table 3: C_g
            with_local=True,  # Table 3: C_l
            reg_type='attentive',  # Table 3: 'attentive' (R_c) | 'stacked' (R_s)
            reg_class_agnostic=True,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5,
                         neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=12000, max_per_img=2000,
                          nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=128, pos_fraction=0.25,
                         neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        # per (query, class) pair
        rpn=dict(nms_pre=6000, max_per_img=100, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100),
        # per image, after merging the classes
        max_per_img=100))
