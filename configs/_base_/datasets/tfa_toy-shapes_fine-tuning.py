# TFA fine-tuning on the toy shapes set: the K-shot files of one seed
# (every class, base and novel, K instances each: TFA's balanced set, the
# same files GCN-FSOD fine-tunes on), tested on every class with the
# novel / base table (./fsod_toy-shapes.py). Another shot or seed:
#   train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=5, seed=3))))
_base_ = ['./fsod_toy-shapes.py']

shot = 10
seed = 0

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
            ann_file='',
            few_shot_ann=dict(root={{_base_.few_shot_ann_root}}, shot=shot, seed=seed),
            data_prefix=dict(img=''),
            classes='ALL_CLASSES',
            class_splits={{_base_.toy_class_splits}},
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline={{_base_.train_pipeline}},
            backend_args={{_base_.backend_args}})))
