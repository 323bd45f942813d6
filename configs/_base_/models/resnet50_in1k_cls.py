# ResNet-50 (He et al. 2016) for ImageNet-1k, as mmpretrain's resnet50 model:
# GAP + one linear layer; 4.11 G MACs at 224 x 224 (mmengine FlopAnalyzer).
# Downstream classifier of AnchorNet's semantic patches (paper Table 3).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
