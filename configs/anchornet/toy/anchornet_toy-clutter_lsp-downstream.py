# Test the toy AnchorNet with LSP (Algorithm 1) in the paper's downstream
# ("slack") setting (K 24/10/8, T 0.8, P 0.3): the patches downstream
# classifiers use, one JSON line per image in
# <work_dir>/<timestamp>/lsp_patches_downstream.jsonl (first 8 images drawn).
# The validation split by default; the training split's records (to
# fine-tune downstream classifiers, configs/anchornet/toy/downstream/) with
#   python tools/test.py configs/anchornet/toy/anchornet_toy-clutter_lsp-downstream.py \
#       work_dirs/anchornet_toy-clutter/epoch_20.pth \
#       --work-dir work_dirs/anchornet_toy-clutter_lsp-train \
#       --cfg-options test_dataloader.dataset.split=train
# This is the FINE-TUNING patch setting. The test-time setting is separate:
# the downstream configs' test_lsp_setting and test_exit_cfg (early exit).
_base_ = ['./anchornet_toy-clutter.py']

custom_hooks = [
    dict(type='LSPHook', setting='downstream',
         out_file='lsp_patches_downstream.jsonl', draw=True, num_draw=8),
]
