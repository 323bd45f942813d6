# Base training on few-shot VOC (any split): query-support pairs of the 15
# base classes of VOC2007 + 2012 trainval (novel boxes dropped: those objects
# are background), evaluated on the base classes of VOC2007 test with 10
# sampled templates per class. The split: ./fsod_voc-split{N}_base-training.py.
_base_ = ['./fsod_voc.py']

num_support_shots = 10  # as on COCO (./fsod_coco_base-training.py)

train_dataloader = dict(
    batch_size=2,
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,
    # (pass, index) to the dataset: new pairs, supports and flips every pass
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='QuerySupportDataset',
        num_support_ways=2,
        num_support_shots=num_support_shots,
        repeat=1,
        seed=0,
        min_support_area=32 * 32,
        support_pipeline={{_base_.support_pipeline}},
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file={{_base_.train_ann_files}},
            classes='BASE_CLASSES',
            # difficult boxes are ordinary training boxes (TFA / detectron2)
            use_difficult=True,
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.train_pipeline}},
            backend_args={{_base_.backend_args}})))

val_dataloader = dict(dataset=dict(classes='BASE_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(_delete_=True, base='BASE_CLASSES'))
test_evaluator = val_evaluator

custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=10, seed=0,
         support_pipeline={{_base_.support_pipeline}})
]
