# Table 4, DenseNet-169 "-L" columns: one localized patch per image (the one of
# maximum activation, at the scale AnchorNet decides). Compare with
# densenet169_anchornet-lsp-table4-rescale_in1k.py; per-scale top-1 is logged as
# cost/B63_top1, cost/B95_top1, cost/B111_top1.
# Each column on every image (the paper's reading): one run per size with
#   --cfg-options model.branch=B63   (or B95, B111)
_base_ = ['./densenet169_anchornet-lsp_in1k.py']

model = dict(mode='localize', max_patches=1, exit_cfg=None)
