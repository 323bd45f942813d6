# Fine-tune the ImageNet-pretrained ResNet-50 (mmpretrain's model zoo) on the
# LSP patches of the ImageNet training set (section 4.3), validating with the
# patch pipeline of resnet50_anchornet-lsp_in1k.py. The schedule is ours (the
# paper gives none): _base_/schedule_patch-ft_in1k.py. The LSP patch records
# of the training set come first (the LSP hook on the AnchorNet checkpoint,
# split=train); their path: train_dataloader.dataset.ann_file.
_base_ = [
    './resnet50_anchornet-lsp_in1k.py',
    './_base_/schedule_patch-ft_in1k.py',
]

model = dict(
    classifier=dict(init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
        'resnet50_8xb32_in1k_20210831-ea4938fc.pth')))
# training batches hold patches of one size (63, 95 or 111 px), 32 of them:
# cuDNN tunes each shape once (validation's varying patch counts are tuned
# as they first come, then cached)
env_cfg = dict(cudnn_benchmark=True)
