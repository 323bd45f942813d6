# K-shot fine-tuning on the toy shapes set: every class (base and novel) from
# the K-shot files of one seed (TFA's format), repeated so that an epoch is
# not a handful of images; tested on every class, AP/AR per novel/base group.
# A new shot or seed is a few lines:
#   _base_ = ['./fsod_toy-shapes_fine-tuning.py']
#   train_dataloader = dict(dataset=dict(dataset=dict(few_shot_ann=dict(shot=5, seed=3))))
_base_ = ['./fsod_toy-shapes.py']

shot = 10
seed = 0

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
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
            generate={{_base_.toy_generate}},
            ann_file='',
            few_shot_ann=dict(root={{_base_.few_shot_ann_root}}, shot=shot, seed=seed),
            data_prefix=dict(img=''),
            classes='ALL_CLASSES',
            class_splits={{_base_.toy_class_splits}},
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline={{_base_.train_pipeline}})))

# The templates are the K-shot instances themselves.
custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=None,
         support_pipeline={{_base_.support_pipeline}})
]
