# TFA base training on the toy shapes set: a plain detection set of the 9
# base classes (every base-class box of the training images; the novel
# objects in them are background, as in TFA's base training), evaluated on
# the base classes. The split, pipelines and test set are GCN-FSOD's
# (./fsod_toy-shapes.py), so the two methods are compared on the same data.
_base_ = ['./fsod_toy-shapes.py']

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    # (pass, index) to the dataset, whose random transforms are drawn from
    # (seed, pass, index): a resume skips the trained batches' indices and
    # loads none of them (IndexSkipIterBasedTrainLoop), exactly
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='KeyedDrawsDataset',
        seed=0,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            generate={{_base_.toy_generate}},
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img=''),
            classes='BASE_CLASSES',
            class_splits={{_base_.toy_class_splits}},
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline={{_base_.train_pipeline}},
            backend_args={{_base_.backend_args}})))

val_dataloader = dict(dataset=dict(classes='BASE_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(
    _delete_=True, base={{_base_.toy_class_splits.BASE_CLASSES}}))
test_evaluator = val_evaluator
