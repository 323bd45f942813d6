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
        # SE squeeze width from the expanded channels (MobileNetV3); 'in'
        # squeezes from the block input (fewer parameters).
        se_squeeze_from='exp',
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
        # keep S in the test-time logits; False: plain GAP of F at test
        test_with_attention=True,
        min_votes=2))  # branches that must agree on the class (eq. 7)
