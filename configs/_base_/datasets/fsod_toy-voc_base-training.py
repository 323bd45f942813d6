# GCN-FSOD base training on the toy shapes set in VOC's layout (XML
# annotations, image sets; mmfsod/utils/toy_voc.py, generated on first use):
# the toy COCO benchmark's split, pairs and schedule
# (./fsod_toy-shapes_base-training.py) with the VOC reading, VOC's
# `difficult` boxes and VOC07 11-point AP50 (FewShotVOCMetric) in place of
# COCO's json and AP. Tested on the base classes.
_base_ = ['./fsod_toy-shapes_base-training.py']

dataset_type = 'ToyShapesVOCDataset'
data_root = 'data/toy_voc/'
few_shot_ann_root = 'vocsplit/'  # under data_root
train_ann_file = 'VOC2007/ImageSets/Main/trainval.txt'
test_ann_file = 'VOC2007/ImageSets/Main/test.txt'

train_dataloader = dict(dataset=dict(dataset=dict(
    _delete_=True,
    type=dataset_type,
    data_root=data_root,
    generate={{_base_.toy_generate}},
    ann_file=train_ann_file,
    classes='BASE_CLASSES',
    class_splits={{_base_.toy_class_splits}},
    use_difficult=True,  # difficult boxes are training boxes, as TFA trains
    filter_cfg=dict(filter_empty_gt=True, min_size=4),
    pipeline={{_base_.train_pipeline}})))
# the test set: difficult boxes ignored, as VOC evaluates
val_dataloader = dict(dataset=dict(
    _delete_=True,
    type=dataset_type,
    data_root=data_root,
    generate={{_base_.toy_generate}},
    ann_file=test_ann_file,
    classes='BASE_CLASSES',
    class_splits={{_base_.toy_class_splits}},
    use_difficult=False,
    test_mode=True,
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='FewShotVOCMetric',
                     class_groups=dict(base='BASE_CLASSES'))
test_evaluator = val_evaluator
