# Few-shot benchmark on the embedded toy shapes set (mmfsod/utils/toy_shapes.py):
# 9 base and 3 novel classes, K-shot files written by
#   python tools/data/prepare_few_shot_split.py \
#       --ann data/toy_shapes/annotations/instances_train.json \
#       --seeds 0 --shots 1 2 3 5 10 30 --out data/toy_shapes/few_shot_ann
# This file holds what base training and fine-tuning share: the split, the
# query and support pipelines, and the test set (every class, AP/AR of the
# novel and base groups). fsod_toy-shapes_{base-training,fine-tuning}.py add
# the training sets.
dataset_type = 'ToyShapesDataset'
data_root = 'data/toy_shapes/'
toy_generate = dict(num_train=300, num_val=60, seed=0)
backend_args = None

# The split is data: ALL_CLASSES fixes the label order.
toy_class_splits = dict(
    ALL_CLASSES=('red_circle', 'green_square', 'blue_triangle', 'yellow_star',
                 'magenta_cross', 'cyan_diamond', 'orange_ring', 'white_hexagon',
                 'purple_crescent', 'lime_arrow', 'pink_ellipse', 'navy_lshape'),
    BASE_CLASSES=('red_circle', 'green_square', 'yellow_star', 'magenta_cross',
                  'orange_ring', 'white_hexagon', 'lime_arrow', 'pink_ellipse',
                  'navy_lshape'),
    NOVEL_CLASSES=('blue_triangle', 'cyan_diamond', 'purple_crescent'))
few_shot_ann_root = 'few_shot_ann/'  # under data_root

img_scale = (288, 288)
support_size = 96  # the paper's 320, scaled with the toy images

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# One support instance: crop its box, longer side to support_size, zero-pad
# to support_size x support_size.
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

val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=toy_generate,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img=''),
        classes='ALL_CLASSES',
        class_splits=toy_class_splits,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# Evaluation protocol: every class (12-way, TFA's), the detections of all
# classes merged and capped at 100 per image, AP / AR per group; the
# novel-only test is configs/gcn_fsod/toy/*_novel-test.py.
val_evaluator = dict(
    type='FewShotCocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    class_groups=dict(novel=toy_class_splits['NOVEL_CLASSES'],
                      base=toy_class_splits['BASE_CLASSES']),
    backend_args=backend_args)
test_evaluator = val_evaluator
