# TFA fine-tuning on few-shot VOC (any split): the K-shot files of one seed
# (all 20 classes, K instances each: TFA's voc_2007_trainval_all{N}_{K}shot;
# seed 0 in vocsplit/, seeds 1-29 in vocsplit/seed{S}/), tested 20-way on
# VOC2007 test. The split: ./tfa_voc-split{N}_fine-tuning.py. Another seed:
#   --cfg-options train_dataloader.dataset.dataset.few_shot_ann.seed=3
_base_ = ['./tfa_voc.py']

shot = 10
seed = 0

train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='KeyedDrawsDataset',
        seed=0,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            # the roots where the K-shot files' images are looked up
            ann_file={{_base_.train_ann_files}},
            few_shot_ann=dict(root={{_base_.few_shot_ann_root}}, shot=shot, seed=seed),
            classes='ALL_CLASSES',
            use_difficult=True,
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.train_pipeline}},
            backend_args={{_base_.backend_args}})))
