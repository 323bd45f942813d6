# Fine-tune the full-image toy classifier (resnet18-w16_toy-clutter_full.py)
# on the LSP patches of the toy clutter training set, validating with the
# patch pipeline (resnet18-w16_anchornet-lsp_toy-clutter.py). First write the
# patch records of the training images with the toy AnchorNet (the LSP hook,
# downstream setting); the newest run's file is used:
#   python tools/test.py configs/anchornet/toy/anchornet_toy-clutter_lsp-downstream.py \
#       work_dirs/anchornet_toy-clutter/epoch_20.pth \
#       --work-dir work_dirs/anchornet_toy-clutter_lsp-train \
#       --cfg-options test_dataloader.dataset.split=train
#   python tools/train.py THIS_CONFIG
_base_ = ['./resnet18-w16_anchornet-lsp_toy-clutter.py']

pretrained = 'work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth'
lsp_patches_train = \
    'work_dirs/anchornet_toy-clutter_lsp-train/*/lsp_patches_downstream.jsonl'

model = dict(classifier=dict(
    init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='classifier.')))

# One item per training patch (the toy images are already 224 x 224, as the
# AnchorNet saw them: no resize before the crop); a batch holds one size.
patch_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CropPatch'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_sampler=dict(type='PatchSizeBatchSampler'),
    dataset=dict(_delete_=True, type='LSPPatchDataset', ann_file=lsp_patches_train,
                 pipeline=patch_train_pipeline))

# Fine-tuning (ours; the paper gives no schedule): the baseline's AdamW at a
# quarter of its lr, cosine decay over 6 epochs of patches.
max_epochs = 6
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=3)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=0.00001, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=3))
