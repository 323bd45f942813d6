# Table 4 "-L" on the toy clutter set: one localized patch per image (the one
# of maximum activation, at the scale AnchorNet decides). Compare with
# resnet18-w16_anchornet-lsp-table4-rescale_toy-clutter.py.
_base_ = ['./resnet18-w16_anchornet-lsp_toy-clutter.py']

model = dict(mode='localize', max_patches=1, exit_cfg=None)
