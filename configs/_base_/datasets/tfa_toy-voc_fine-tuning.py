# TFA fine-tuning on the toy shapes set in VOC's layout: TFA's VOC K-shot
# files of one seed (see ./fsod_toy-voc_fine-tuning.py for the command that
# writes them), tested 12-way with VOC07 11-point AP50 of the novel, base and
# all classes. Otherwise ./tfa_toy-shapes_fine-tuning.py.
_base_ = ['./tfa_toy-shapes_fine-tuning.py']

dataset_type = 'ToyShapesVOCDataset'
data_root = 'data/toy_voc/'
few_shot_ann_root = 'vocsplit/'  # under data_root
train_ann_file = 'VOC2007/ImageSets/Main/trainval.txt'
test_ann_file = 'VOC2007/ImageSets/Main/test.txt'

train_dataloader = dict(dataset=dict(dataset=dict(
    _delete_=True,
    backend_args={{_base_.backend_args}},
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
