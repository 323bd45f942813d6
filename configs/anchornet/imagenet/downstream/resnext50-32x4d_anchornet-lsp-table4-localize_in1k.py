# Table 4, ResNeXt-50 32x4d "-L" columns: one localized patch per image (the one of
# maximum activation, at the scale AnchorNet decides). Compare with
# resnext50-32x4d_anchornet-lsp-table4-rescale_in1k.py; per-scale top-1 is logged as
# cost/B63_top1, cost/B95_top1, cost/B111_top1.
# Each column on every image (the paper's reading): one run per size with
#   --cfg-options model.branch=B63   (or B95, B111)
# Evaluated, as the paper's Table 4, "on the same networks without any extra
# trainings": by default the full-image classifier before patch fine-tuning
# (mmpretrain's ImageNet checkpoint, a plain classifier checkpoint loaded into
# model.classifier); pass it to tools/test.py (or the fine-tuned checkpoint
# to evaluate that one instead):
#   python tools/test.py THIS_CONFIG $FULL_IMAGE_CHECKPOINT  (= load_from below)
_base_ = ['./resnext50-32x4d_anchornet-lsp_in1k.py']

model = dict(mode='localize', max_patches=1, exit_cfg=None)
load_from = ('https://download.openmmlab.com/mmclassification/v0/resnext/'
             'resnext50_32x4d_b32x8_imagenet_20210429-56066e27.pth')
