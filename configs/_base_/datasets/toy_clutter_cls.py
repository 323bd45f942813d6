# The embedded toy clutter classification set (mmfsod/utils/toy_clutter.py):
# 6 classes, one labelled object per 224 px image among distractors that share
# its colour or its shape; generated under data_root on first use, identical
# for the same arguments. Layout: data_root/{train,val,holdout}/<class>/*.jpg
# with the lists data_root/meta/{train,val,holdout}.txt.
dataset_type = 'ToyClutterDataset'
data_root = 'data/toy_clutter/'
# num_holdout: 120 more images of the training distribution that no model
# trains on (split 'holdout'), for calibrating the early-exit thresholds.
clutter_generate = dict(num_train=600, num_val=120, num_holdout=120, num_classes=6,
                        img_size=224, seed=0)
# The calibration reads a larger held-out split, 1,200 images, from its own
# directory (a threshold chosen on 120 images did not hold on the validation
# images). Image i of a split depends only on (seed, split, i): its first 120
# held-out images are those above, and data_root's training and validation
# images are untouched (its 6 + 6 training / validation images are never read).
calibration_data_root = 'data/toy_clutter_holdout/'
calibration_generate = dict(clutter_generate, num_train=6, num_val=6, num_holdout=1200)
num_classes = 6  # = clutter_generate['num_classes']; the model's heads use it

data_preprocessor = dict(
    num_classes=num_classes,
    # RGB normalisation (ImageNet's); images are read BGR and converted
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)

# The images are already img_size x img_size: no resizing, no cropping (a crop
# could cut the labelled object out).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        generate=clutter_generate,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        generate=clutter_generate,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# Held-out images of the training distribution (split 'holdout'), never
# trained on: calibration of test-time choices such as the early-exit
# thresholds (tools/analysis_tools/calibrate_early_exit.py), never the test
# split.
calibration_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=calibration_data_root,
        split='holdout',
        generate=calibration_generate,
        test_mode=True,
        pipeline=test_pipeline))

# top-5 as well: 6 classes >= 5
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
