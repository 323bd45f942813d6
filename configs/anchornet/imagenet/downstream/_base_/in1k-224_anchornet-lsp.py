# Shared by the downstream ImageNet configs (paper section 4.3): ImageNet-1k
# as AnchorNet sees it (every image resized to 224 x 224, no crop: section
# 4.1), the training-set LSP patches for fine-tuning, where the frozen
# AnchorNet comes from, and the evaluators (top-1/top-5 beside the MACs per
# image). The model is set by each downstream config.
_base_ = ['../../../../_base_/default_runtime_cls.py']

# The localizer: AnchorNet's training config and its checkpoint. Paths are
# relative to the repository root.
anchornet_config = 'configs/anchornet/imagenet/anchornet_8xb32_in1k.py'
anchornet_checkpoint = 'work_dirs/anchornet_8xb32_in1k/epoch_100.pth'
# The LSP patch records (downstream setting) of the training set, one JSON
# line per image, written by the LSP hook from the AnchorNet checkpoint; the
# newest run's file is used:
#   python tools/test.py \
#       configs/anchornet/imagenet/anchornet_8xb32_in1k_lsp-downstream.py \
#       work_dirs/anchornet_8xb32_in1k/epoch_100.pth \
#       --work-dir work_dirs/anchornet_8xb32_in1k_lsp-train \
#       --cfg-options test_dataloader.dataset.split=train
# Another file: --cfg-options train_dataloader.dataset.ann_file=...
lsp_patches_train = \
    'work_dirs/anchornet_8xb32_in1k_lsp-train/*/lsp_patches_downstream.jsonl'

# The test-time patch setting, separate from the fine-tuning patches (the LSP
# hook's setting in anchornet_8xb32_in1k_lsp-downstream.py, the paper's slack
# setting K 24/10/8, T 0.8, P 0.3): LSP gives the same candidates, and early
# exit classifies them one per stage until max_k of the mean softmax reaches
# the threshold (the paper's test images average 5.6 / 2.9 / 2.1 patches).
# 0.9 is uncalibrated: calibrate on held-out training images with
#   python tools/analysis_tools/calibrate_early_exit.py CONFIG CKPT --max-top1-drop 0.7
# `--cfg-options model.exit_cfg=None` classifies every candidate.
test_lsp_setting = 'downstream'
test_exit_cfg = dict(stages=(1, ), thresholds=0.9, score='max')

dataset_type = 'ImageNet'
data_root = 'data/imagenet'
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,  # images are read BGR
)

# Input: 8 workers per GPU (a training item decodes a whole ImageNet image for
# one 63-111 px patch, so decoding outweighs the classifier's step), pinned
# memory, workers kept. env_cfg.cudnn_benchmark stays False here (test):
# early exit classifies a varying number of patches per size and batch, a
# new shape for cuDNN to tune almost every time; the patch fine-tuning
# (fixed batches of one patch size) turns it on (the *-ft_8xb32_in1k.py configs).
# Fine-tuning: one item per training patch, labelled with its image's label;
# the image is resized exactly as AnchorNet's test pipeline did, then the
# patch box (network-input pixels) is cropped at its native size (63, 95 or
# 111 px); a batch holds patches of one size only.
patch_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='CropPatch'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
# Test: the whole image at 224 x 224; the PatchClassifier localizes and crops.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='PatchSizeBatchSampler'),
    dataset=dict(type='LSPPatchDataset', ann_file=lsp_patches_train,
                 pipeline=patch_train_pipeline),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 pipeline=test_pipeline),
)
test_dataloader = val_dataloader
# Calibration of the early-exit thresholds: held-out TRAINING images, never
# the val split the results are reported on. meta/train_holdout.txt lists
# them ("<wnid>/<file> <label>", e.g. 10 per class); for an unbiased
# calibration hold them out of AnchorNet's and the classifier's training too
# (as MSDNet holds out 50k training images).
calibration_dataloader = dict(
    batch_size=32,
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 ann_file='meta/train_holdout.txt', pipeline=test_pipeline),
)
# Accuracy reads pred_score (the patches' summed softmaxes / n); the cost
# metric averages the MACs the PatchClassifier counted for every image.
val_evaluator = [dict(type='Accuracy', topk=(1, 5)), dict(type='PatchCostMetric')]
test_evaluator = val_evaluator
# The test and validation loops (tools/test.py on the patch-test configs,
# validation while fine-tuning): without them mmengine's Runner refuses the
# test and val dataloaders above.
val_cfg = dict()
test_cfg = dict()
