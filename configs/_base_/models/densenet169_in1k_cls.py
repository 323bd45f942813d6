# DenseNet-169 (Huang et al. 2017) for ImageNet-1k, as mmpretrain's
# densenet169 model: GAP + one linear layer on its 1664 channels. Downstream
# classifier of AnchorNet's semantic patches (paper Table 3).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='DenseNet', arch='169'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1664,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
