# Table 4, ResNet-50 "-L" columns: one localized patch per image (the one of
# maximum activation, at the scale AnchorNet decides). Compare with
# resnet50_anchornet-lsp-table4-rescale_in1k.py; per-scale top-1 is logged as
# cost/B63_top1, cost/B95_top1, cost/B111_top1.
_base_ = ['./resnet50_anchornet-lsp_in1k.py']

model = dict(mode='localize', max_patches=1)
