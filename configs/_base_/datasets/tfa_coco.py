# TFA on few-shot COCO: the split, K-shot files, test set and metric of
# GCN-FSOD (./fsod_coco.py: 60 base / 20 novel, TFA's protocol) with TFA's
# own input sizes (detectron2's Base-RCNN-FPN.yaml that TFA's configs
# inherit: shorter side 640-800 in training, 800 at test, longer side at
# most 1333). fsod_coco.py's support pipeline is not used by TFA.
_base_ = ['./fsod_coco.py']

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize',
         scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768),
                 (1333, 800)],
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
