# K-shot fine-tuning on few-shot VOC (any split): all 20 classes from TFA's
# K-shot files of one seed (box_{K}shot_{class}_train.txt; an image keeps the
# boxes of the file's class only), repeated; tested 20-way on VOC2007 test.
# The split: ./fsod_voc-split{N}_fine-tuning.py. Another shot or seed:
#   train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=5, seed=3))))
_base_ = ['./fsod_voc.py']

shot = 10
seed = 0

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
        # None: K of few_shot_ann (see ./fsod_coco_fine-tuning.py)
        num_support_shots=None,
        repeat=10,
        seed=0,
        support_pipeline={{_base_.support_pipeline}},
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

custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=None,
         support_pipeline={{_base_.support_pipeline}})
]
