# Fine-tuning an ImageNet-pretrained classifier on training patches. The paper
# gives no schedule for it; this one is OURS: SGD with AnchorNet's momentum
# 0.9 and weight decay 1e-4, lr 0.01 for a total batch of 256 (a tenth of
# training from scratch), linear warm-up over 500 iterations, then cosine
# decay over 5 epochs of patches. The downstream LSP setting gives exactly
# K = 24/10/8 patches per image (see lsp.py: at T = 0.8 stride-8 patches
# barely suppress each other), so an epoch of patches has ~13 items per
# ImageNet image (branch shares of the paper's val set) and ~1.9x its pixels.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=5, eta_min=0.0),
]
train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=1)
# val_cfg / test_cfg: in1k-224_anchornet-lsp.py (the patch-test configs need them too)
# the total batch 256 (8 GPUs x 32) is kept on any number of GPUs (256 / N per
# GPU); --auto-scale-lr keeps 32 per GPU and scales the lr with N x 32 / 256.
auto_scale_lr = dict(base_batch_size=256, keep_total_batch=True)
