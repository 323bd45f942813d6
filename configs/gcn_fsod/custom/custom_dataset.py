# Your own COCO-format data for GCN-FSOD (docs/custom_dataset.md).
# EDIT ONLY THE FIRST BLOCK: paths, class names, K-shot setting. Every class
# of base_classes + novel_classes must be a category (by name) of the jsons.
# From outside the repository, inherit this file instead of editing it:
#   _base_ = 'mmfsod::gcn_fsod/custom/gcn-fsod_r18_c4_custom_base-training.py'
#   data_root = '/path/to/my_dataset/'
#   base_classes = ('cat', 'dog')
#   novel_classes = ('fox', )
# ----------------------------------------------------------------- edit here
data_root = 'data/my_dataset/'
train_ann_file = 'annotations/train.json'  # under data_root
val_ann_file = 'annotations/val.json'  # under data_root
img_prefix = 'images/'  # the jsons' file_name is relative to data_root + img_prefix
few_shot_ann_root = 'few_shot_ann/'  # under data_root: prepare_few_shot_split.py --out
base_classes = ('base_class_a', 'base_class_b', 'base_class_c')
novel_classes = ('novel_class_x', )
shot = 10  # fine-tuning: the K-shot files of K = shot ...
seed = 0  # ... and of this seed (prepare_few_shot_split.py --shots / --seeds)
# ------------------------------------------------------------ no edits below
# DERIVED FIELDS: '${key}' is the value of the top-level `key` above, read
# when a tool uses the config (after a child config and --cfg-options), so
# `--cfg-options data_root=... base_classes="(a,b)" shot=5 img_scale="(256,256)"`
# or the same keys in a child config change every dataset, evaluator, hook
# and pipeline below (mmfsod/utils/config_derived.py). A field given a plain value instead
# keeps it: set train_dataloader.dataset.dataset.data_root=... to change
# one dataset only.
# Labels follow ALL_CLASSES (base, then novel), whatever the category ids.
class_splits = dict(BASE_CLASSES='${base_classes}', NOVEL_CLASSES='${novel_classes}')
dataset_type = 'FewShotCocoDataset'
backend_args = None
img_scale = (512, 512)  # the longer side of a query is at most 512 px
support_size = 128  # supports: the box cut out, longer side 128, padded square

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# zero padding after normalisation: pad with the mean pixel (BGR)
support_pad_bgr = (103.53, 116.28, 123.675)
support_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CropSupportInstance', context=0.0),
    dict(type='Resize', scale=('${support_size}', '${support_size}'), keep_ratio=True),
    dict(type='Pad', size=('${support_size}', '${support_size}'),
         pad_val=dict(img=support_pad_bgr)),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'support_crop'))
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale='${img_scale}', keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]

# Base training: query-support pairs of the base classes (2-way 10-shot: the
# paper's K, see configs/_base_/datasets/fsod_toy-shapes_base-training.py).
base_train_dataset = dict(
    type='QuerySupportDataset', num_support_ways=2, num_support_shots=10, repeat=1,
    seed=0, min_support_area=16, support_pipeline=support_pipeline,
    dataset=dict(type=dataset_type, data_root='${data_root}', ann_file='${train_ann_file}',
                 data_prefix=dict(img='${img_prefix}'), classes='BASE_CLASSES',
                 class_splits='${class_splits}', filter_cfg=dict(filter_empty_gt=True, min_size=4),
                 pipeline=train_pipeline, backend_args=backend_args))
# K-shot fine-tuning: every class, from the K-shot files of one seed.
fine_tune_dataset = dict(
    # num_support_shots=None: K of few_shot_ann, up to K distinct supports a class
    type='QuerySupportDataset', num_support_ways=2, num_support_shots=None, repeat=10,
    seed=0, support_pipeline=support_pipeline,
    dataset=dict(type=dataset_type, data_root='${data_root}', ann_file='',
                 few_shot_ann=dict(root='${few_shot_ann_root}', shot='${shot}', seed='${seed}'),
                 data_prefix=dict(img='${img_prefix}'), classes='ALL_CLASSES',
                 class_splits='${class_splits}', filter_cfg=dict(filter_empty_gt=True, min_size=4),
                 pipeline=train_pipeline, backend_args=backend_args))

val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root='${data_root}', ann_file='${val_ann_file}',
                 data_prefix=dict(img='${img_prefix}'), classes='ALL_CLASSES',
                 class_splits='${class_splits}', test_mode=True, pipeline=test_pipeline,
                 backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='FewShotCocoMetric', ann_file='${data_root}${val_ann_file}',
                     class_groups=dict(novel='${novel_classes}', base='${base_classes}'),
                     backend_args=backend_args)
test_evaluator = val_evaluator
