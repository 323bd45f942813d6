# TFA base training on few-shot COCO: the 60 base classes of trainvalno5k
# (novel boxes dropped: those objects are background, as in TFA's
# coco_trainval_base), tested on the base classes of the 5k minival.
_base_ = ['./tfa_coco.py']

# 4 workers per GPU (one image an item, up to 1333 x 800 after the resize);
# pinned memory, workers kept (see fsod_coco.py).
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    pin_memory=True,
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
            ann_file='cocosplit/datasplit/trainvalno5k.json',
            data_prefix=dict(img=''),
            img_subdirs={{_base_.img_subdirs}},
            classes='BASE_CLASSES',
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.train_pipeline}},
            backend_args={{_base_.backend_args}})))

val_dataloader = dict(dataset=dict(classes='BASE_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(_delete_=True, base='BASE_CLASSES'))
test_evaluator = val_evaluator
