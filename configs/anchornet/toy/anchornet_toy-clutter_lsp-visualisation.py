# Test the toy AnchorNet with LSP (Algorithm 1) in the paper's visualisation
# setting (K 5/3/2, T 0.3, P 0.05/0.04/0.03 for B63/B95/B111): writes one
# JSON line per validation image (branch, class, patch boxes, activations) to
# <work_dir>/<timestamp>/lsp_patches_visualisation.jsonl and draws the first
# 16 images (patches, Fig. 3; attention maps, Fig. 5) into lsp_vis/:
#   python tools/test.py \
#       configs/anchornet/toy/anchornet_toy-clutter_lsp-visualisation.py \
#       work_dirs/anchornet_toy-clutter/epoch_20.pth
_base_ = ['./anchornet_toy-clutter.py']

custom_hooks = [
    dict(type='LSPHook', setting='visualisation',
         out_file='lsp_patches_visualisation.jsonl', draw=True, num_draw=16),
]
