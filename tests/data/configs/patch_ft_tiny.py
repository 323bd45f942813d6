# The toy downstream fine-tuning on LSP patches
# (configs/anchornet/toy/downstream/resnet18-w16_anchornet-lsp-ft_toy-clutter.py)
# shrunk for tests: the patch records MMFSOD_TEST_LSP_RECORDS (written by the
# tests) of 128 px toy clutter images, batch 4, no workers, 2 epochs with a
# checkpoint after each, no validation, no pretrained weights; the localizer
# (the toy AnchorNet, random weights) is built but not used in training.
_base_ = ['../../../configs/anchornet/toy/downstream/'
          'resnet18-w16_anchornet-lsp-ft_toy-clutter.py']

lsp_records = '{{$MMFSOD_TEST_LSP_RECORDS:data/lsp_records_tiny.jsonl}}'
model = dict(localizer_checkpoint=None, classifier=dict(init_cfg=None))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file=lsp_records))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=100)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=0.00001, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=-1))
