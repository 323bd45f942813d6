# TFA fine-tuning on few-shot COCO: the K-shot files of one seed (all 80
# classes, K instances each: TFA's coco_trainval_all_{K}shot, seed 0 in
# cocosplit/, seeds 1-9 in cocosplit/seed{N}/), tested on all 80 classes of
# the 5k minival (80-way, TFA's protocol). Another seed:
#   --cfg-options train_dataloader.dataset.dataset.few_shot_ann.seed=3
_base_ = ['./tfa_coco.py']

shot = 10
seed = 0

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
            ann_file='',
            few_shot_ann=dict(root={{_base_.few_shot_ann_root}}, shot=shot, seed=seed),
            data_prefix=dict(img=''),
            img_subdirs={{_base_.img_subdirs}},
            classes='ALL_CLASSES',
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.train_pipeline}},
            backend_args={{_base_.backend_args}})))
