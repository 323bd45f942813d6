# A narrow ResNet-18 for the 6-class toy clutter set on a CPU: the ResNet-18
# layout (BasicBlocks 2-2-2-2, 7x7/2 stem and max-pool) with 16 stem and base
# channels instead of 64 (stages 16-32-64-128), GAP + one linear layer.
# 0.137 G MACs at 224 x 224 (mmengine FlopAnalyzer).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16,
                  num_stages=4, out_indices=(3, ), style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=6,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
