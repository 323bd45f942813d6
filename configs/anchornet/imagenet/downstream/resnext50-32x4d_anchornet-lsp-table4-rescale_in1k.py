# Table 4, ResNeXt-50 32x4d "-R" columns: the whole image rescaled to the patch size
# AnchorNet decides (63, 95 or 111 px) instead of the localized patch; the
# same single input size per image as
# resnext50-32x4d_anchornet-lsp-table4-localize_in1k.py.
_base_ = ['./resnext50-32x4d_anchornet-lsp_in1k.py']

model = dict(mode='rescale', max_patches=1)
