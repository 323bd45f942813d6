# AnchorNet (Yang et al., ICME 2022): padding-free MobileNetV3-style head and
# three localization branches B63 / B95 / B111 (paper Tables 1, 2), each with
# a linear 1x1 logits conv, an attention branch (eqs. 1-5) and a training-only
# auxiliary FC; the decision rule (eqs. 6-8) picks class and branch at test.
# mmpretrain's ImageClassifier with no neck. Needs default_scope='mmpretrain'
# and custom_imports mmfsod.classification (configs/_base_/default_runtime_cls.py).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='AnchorNet',
        arch='anchornet',
        # SE squeeze width from the block input (1.72 M params, 1.43 M at
        # inference: closest to the paper's 1.6 M); 'exp' squeezes from the
        # expanded channels as MobileNetV3 (2.53 / 2.24 M).
        se_squeeze_from='in',
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.01)),
    neck=None,
    head=dict(
        type='AnchorNetHead',
        num_classes=1000,
        in_channels=96,
        branch_names=('B63', 'B95', 'B111'),  # = the backbone's branch order
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        att_loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        # image logits = sum_hw F * S (S sums to 1); 'mean' = literal GAP of F * S
        pool='weighted_sum',
        # the paper cuts attention -> GAP at test: test logits = GAP of F, the
        # spatial mean of the heatmaps LSP reads; True keeps S at test
        test_with_attention=False,
        min_votes=2))  # branches that must agree on the class (eq. 7)
