# Table 4 "-R" on the toy clutter set: the whole image rescaled to the patch
# size AnchorNet decides (63, 95 or 111 px) instead of the localized patch.
_base_ = ['./resnet18-w16_anchornet-lsp_toy-clutter.py']

model = dict(mode='rescale', max_patches=1, exit_cfg=None)
