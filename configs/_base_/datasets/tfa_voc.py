# TFA on few-shot VOC: the splits, K-shot files, test set (VOC2007 test, 20-way)
# and metric (VOC07 11-point AP50 per novel / base / all) of GCN-FSOD
# (./fsod_voc.py) with TFA's own VOC input sizes (its PascalVOC-detection
# configs: shorter side 480-800 in steps of 32 in training, 800 at test,
# longer side at most 1333). fsod_voc.py's support pipeline is not used by TFA.
_base_ = ['./fsod_voc.py']

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize',
         scales=[(1333, s) for s in range(480, 801, 32)],
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
