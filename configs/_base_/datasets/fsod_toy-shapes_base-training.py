# Base training on the toy shapes set: query-support pairs of the 9 base
# classes (2-way: the query's class and one absent class, K supports each,
# drawn afresh every pass),
# evaluated on the base classes with a seeded sample of base templates.
_base_ = ['./fsod_toy-shapes.py']

num_support_ways = 2
# K supports per class in each pair ("one query image and K object patches",
# section 3; the K shots' maps averaged as the test averages its templates).
# 10: the paper's K (10-shot) and the number of templates the base-training
# test uses, so training and test see the same input. On this toy set K = 1
# was not better (novel AP50 0.242 against 0.275 with K = 10, seeds 0-1;
# README "Toy results"):
#   python tools/analysis_tools/fsod_draws_benchmark.py --variants after --base-shots 1 --seeds 0 1
num_support_shots = 10

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    # (pass, index) to the dataset: new pairs, supports and flips every pass
    sampler=dict(type='PassInfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='QuerySupportDataset',
        num_support_ways=num_support_ways,
        num_support_shots=num_support_shots,
        repeat=1,
        seed=0,
        # smaller instances are not cut out as supports (they stay query
        # ground truth, and their class is never a negative of that query)
        min_support_area=16,
        support_pipeline={{_base_.support_pipeline}},
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            generate={{_base_.toy_generate}},
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img=''),
            classes='BASE_CLASSES',
            class_splits={{_base_.toy_class_splits}},
            filter_cfg=dict(filter_empty_gt=True, min_size=4),
            pipeline={{_base_.train_pipeline}})))

# Evaluate the base classes during base training.
val_dataloader = dict(dataset=dict(classes='BASE_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(
    _delete_=True, base={{_base_.toy_class_splits.BASE_CLASSES}}))
test_evaluator = val_evaluator

# 10 templates per base class, sampled once with seed 0, recorded in the
# checkpoint and reused by tools/test.py.
custom_hooks = [
    dict(type='SupportTemplateHook', num_shots=10, seed=0,
         support_pipeline={{_base_.support_pipeline}})
]
