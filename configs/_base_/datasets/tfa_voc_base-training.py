# TFA base training on few-shot VOC (any split): the 15 base classes of
# VOC2007 + 2012 trainval (novel boxes dropped: those objects are background,
# as in TFA's voc_{2007,2012}_trainval_base{N}), tested on the base classes of
# VOC2007 test. The split: ./tfa_voc-split{N}_base-training.py.
_base_ = ['./tfa_voc.py']

train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    pin_memory=True,
    persistent_workers=True,
    # (pass, index) to the dataset, whose random transforms are drawn from
    # (seed, pass, index): a resume skips the trained batches' indices exactly
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='KeyedDrawsDataset',
        seed=0,
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
