# AnchorNet on ImageNet-1k, tested with LSP (Algorithm 1) in the paper's
# visualisation setting (K 5/3/2, T 0.3, P 0.05/0.04/0.03 for B63/B95/B111):
# one JSON line per validation image in
# <work_dir>/<timestamp>/lsp_patches_visualisation.jsonl, the first 32
# images drawn (patches, Fig. 3; attention maps, Fig. 5) into lsp_vis/.
# The test pipeline resizes to 224 x 224 without a crop, so every patch maps
# back to the original image (ori_box = box / scale factor).
_base_ = ['./anchornet_8xb32_in1k.py']

custom_hooks = [
    dict(type='LSPHook', setting='visualisation',
         out_file='lsp_patches_visualisation.jsonl', draw=True, num_draw=32),
]
