# Few-shot PASCAL VOC (TFA's protocol, after Kang et al. 2019): 15 base / 5
# novel classes in three splits (./voc_split{1,2,3}.py), trained on VOC2007 +
# VOC2012 trainval, tested on VOC2007 test (4,952 images) with VOC07's
# 11-point AP50 for the novel, base and all classes. Expected layout:
#   data/VOCdevkit/VOC2007/{Annotations,JPEGImages,ImageSets/Main/{trainval,test}.txt}
#   data/VOCdevkit/VOC2012/{Annotations,JPEGImages,ImageSets/Main/trainval.txt}
#   data/VOCdevkit/vocsplit/box_{K}shot_{class}_train.txt (seed 0: Kang et al.'s),
#   data/VOCdevkit/vocsplit/seed{N}/box_{K}shot_{class}_train.txt (seeds 1-29)
# TFA's vocsplit files can be used as they are, or seeds 1-29 written with
# TFA's sampler by
#   python tools/data/prepare_few_shot_split.py --format voc \
#       --voc-roots data/VOCdevkit/VOC2007 data/VOCdevkit/VOC2012 \
#       --seeds 1 2 3 4 5 6 7 8 9 --out data/VOCdevkit/vocsplit
# This file holds what base training and fine-tuning of every split share;
# the split is applied by fsod_voc-split{N}_{base-training,fine-tuning}.py.
dataset_type = 'FewShotVOCDataset'
data_root = 'data/VOCdevkit/'
backend_args = None
few_shot_ann_root = 'vocsplit/'  # under data_root
train_ann_files = ['VOC2007/ImageSets/Main/trainval.txt',
                   'VOC2012/ImageSets/Main/trainval.txt']
test_ann_file = 'VOC2007/ImageSets/Main/test.txt'

# GCN-FSOD's COCO input sizes (./fsod_coco.py)
img_scale = (1000, 600)
support_size = 320  # support patches: longer side 320, zero-padded to 320 x 320

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# zero padding in the network's input: the mean pixel (BGR), see fsod_coco.py
support_pad_bgr = (103.53, 116.28, 123.675)
support_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CropSupportInstance', context=0.0),
    dict(type='Resize', scale=(support_size, support_size), keep_ratio=True),
    dict(type='Pad', size=(support_size, support_size), pad_val=dict(img=support_pad_bgr)),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'support_crop'))
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]

# VOC2007 test; `difficult` boxes are ignored (VOC's evaluation: a detection
# on one is neither a true nor a false positive). The split's class_splits is
# set by the fsod_voc-split{N}_* configs.
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    pin_memory=True,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=test_ann_file,
        classes='ALL_CLASSES',
        use_difficult=False,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# Evaluation protocol: 20-way (TFA's): every one of the 20 classes tested,
# the detections of all classes merged and capped at 100 per image; VOC07
# 11-point AP50 per group (nAP50 = novel/bbox_mAP_50, bAP50 = base/...,
# AP50 = all/...). The split names are resolved with the dataset's
# class_splits, so every split shares this evaluator.
val_evaluator = dict(
    type='FewShotVOCMetric',
    class_groups=dict(novel='NOVEL_CLASSES', base='BASE_CLASSES'),
    eval_mode='11points')
test_evaluator = val_evaluator
