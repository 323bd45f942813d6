# K-shot fine-tuning on few-shot COCO: all 80 classes from TFA's K-shot files
# of one seed, repeated; tested on the 5k minival with AP/AR per novel/base.
# Another shot or seed, in a leaf config:
#   train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=30, seed=1))))
_base_ = ['./fsod_coco.py']

shot = 10
seed = 0

# 8 workers per GPU: a query-support item decodes 1 query + ways x K support
# images (each support is cut from its full image): 1 + 2 x 10 = 21 JPEGs at
# base training, up to 1 + 2 x 30 at 30-shot fine-tuning, ~3 ms each on one
# core (a 640 x 480 JPEG, measured) plus the resizes: ~0.1 s of CPU an item.
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
        # None: K of few_shot_ann (the paper's K); a pair takes up to K
        # distinct instances of each class, the positive class's from
        # other images than the query (K-shot files: usually K - 1)
        num_support_shots=None,
        repeat=10,
        seed=0,
        support_pipeline={{_base_.support_pipeline}},
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='',
            few_shot_ann=dict(root={{_base_.few_shot_ann_root}}, shot=shot, seed=seed),
            data_prefix=dict(img=''),
            img_subdirs={{_base_.img_subdirs}},
            classes='ALL_CLASSES',
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline={{_base_.train_pipeline}})))

custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=None,
         support_pipeline={{_base_.support_pipeline}})
]
