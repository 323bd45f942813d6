# GCN-FSOD K-shot fine-tuning on the toy shapes set in VOC's layout: every
# class from TFA's VOC K-shot files (box_{K}shot_{class}_train.txt) of one
# seed, written by
#   python tools/data/prepare_few_shot_split.py --format voc \
#       --voc-roots data/toy_voc/VOC2007 --class-order toy --sample-seed0 \
#       --seeds 0 --out data/toy_voc/vocsplit
# tested 12-way on the toy VOC test set (VOC07 11-point AP50 of the novel,
# base and all classes). Otherwise ./fsod_toy-shapes_fine-tuning.py.
_base_ = ['./fsod_toy-shapes_fine-tuning.py']

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
    ann_file=train_ann_file,  # the images the K-shot files name
    few_shot_ann=dict(root=few_shot_ann_root, shot={{_base_.shot}}, seed={{_base_.seed}}),
    classes='ALL_CLASSES',
    class_splits={{_base_.toy_class_splits}},
    use_difficult=True,
    filter_cfg=dict(filter_empty_gt=True, min_size=4),
    pipeline={{_base_.train_pipeline}})))
val_dataloader = dict(dataset=dict(
    _delete_=True,
    type=dataset_type,
    data_root=data_root,
    generate={{_base_.toy_generate}},
    ann_file=test_ann_file,
    classes='ALL_CLASSES',
    class_splits={{_base_.toy_class_splits}},
    use_difficult=False,
    test_mode=True,
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='FewShotVOCMetric',
                     class_groups=dict(novel='NOVEL_CLASSES', base='BASE_CLASSES'))
test_evaluator = val_evaluator
