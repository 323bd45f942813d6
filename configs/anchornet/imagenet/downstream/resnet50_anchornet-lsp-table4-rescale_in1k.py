# Table 4, ResNet-50 "-R" columns: the whole image rescaled to the patch size
# AnchorNet decides (63, 95 or 111 px) instead of the localized patch; the
# same single input size per image as
# resnet50_anchornet-lsp-table4-localize_in1k.py.
_base_ = ['./resnet50_anchornet-lsp_in1k.py']

model = dict(mode='rescale', max_patches=1)
