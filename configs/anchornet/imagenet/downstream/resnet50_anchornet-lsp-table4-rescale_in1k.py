# Table 4, ResNet-50 "-R" columns: the whole image rescaled to the patch size
# AnchorNet decides (63, 95 or 111 px) instead of the localized patch; the
# same single input size per image as
# resnet50_anchornet-lsp-table4-localize_in1k.py.
# Each column on every image (the paper's reading): one run per size with
#   --cfg-options model.branch=B63   (or B95, B111)
_base_ = ['./resnet50_anchornet-lsp_in1k.py']

model = dict(mode='rescale', max_patches=1, exit_cfg=None)
