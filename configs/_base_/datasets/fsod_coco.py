# Few-shot COCO (TFA's protocol): 60 base / 20 novel classes (the built-in
# COCO_SPLIT: the PASCAL VOC classes are novel), trained on COCO2014 trainval
# minus 5k images, tested on those 5k (minival). Expected layout (TFA's):
#   data/coco/train2014/, data/coco/val2014/
#   data/coco/cocosplit/datasplit/trainvalno5k.json, .../5k.json
#   data/coco/cocosplit/full_box_{K}shot_{class}_trainval.json (seed 0),
#   data/coco/cocosplit/seed{N}/... (seeds 1-9)
# TFA's split files can be used as they are, or written from trainvalno5k.json by
#   python tools/data/prepare_few_shot_split.py \
#       --ann data/coco/cocosplit/datasplit/trainvalno5k.json \
#       --seeds 0 1 2 3 4 5 6 7 8 9 --out data/coco/cocosplit
# This file holds what base training and fine-tuning share; see
# fsod_coco_{base-training,fine-tuning}.py for the training sets.
dataset_type = 'FewShotCocoDataset'
data_root = 'data/coco/'
backend_args = None
few_shot_ann_root = 'cocosplit/'  # under data_root
# TFA's json files mix train2014 and val2014 images by file name.
img_subdirs = dict(COCO_train2014_='train2014/', COCO_val2014_='val2014/')

img_scale = (1000, 600)
support_size = 320  # support patches: longer side 320, zero-padded to 320 x 320

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# The paper's zero padding is zero in the network's input, i.e. after the
# data preprocessor subtracts the mean: pad with the mean pixel (BGR, as the
# image is read; keep it equal to data_preprocessor.mean, which is RGB).
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

# Input (the paper configs keep a GPU busy; the toy configs keep 2 workers):
# num_workers per GPU process, pinned host memory for the copy to the GPU,
# workers kept between epochs / validations. env_cfg.cudnn_benchmark stays
# False (default_runtime_det.py) for the COCO detectors: the query images
# keep their aspect ratio (AspectRatioBatchSampler only groups orientations),
# so almost every batch has a new shape and cuDNN would re-tune its
# convolutions for each one.
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
        ann_file='cocosplit/datasplit/5k.json',
        data_prefix=dict(img=''),
        img_subdirs=img_subdirs,
        classes='ALL_CLASSES',
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# Evaluation protocol: 80-way (TFA's): every class tested, the detections of
# all classes merged and capped at 100 per image (base detections compete
# with novel ones), AP / AR per group. The 20-way novel-only test (the
# paper's "10-shot 20-way") is configs/gcn_fsod/coco/*_20way-novel-test.py.
# class_groups: the built-in split's names, resolved by FewShotCocoMetric.
val_evaluator = dict(
    type='FewShotCocoMetric',
    ann_file=data_root + 'cocosplit/datasplit/5k.json',
    class_groups=dict(novel='NOVEL_CLASSES', base='BASE_CLASSES'),
    backend_args=backend_args)
test_evaluator = val_evaluator
