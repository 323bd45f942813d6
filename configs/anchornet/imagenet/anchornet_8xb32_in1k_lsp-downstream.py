# AnchorNet on ImageNet-1k, tested with LSP (Algorithm 1) in the paper's
# downstream ("slack") setting (K 24/10/8, T 0.8, P 0.3): the patches the
# downstream classifiers use, one JSON line per validation image in
# <work_dir>/<timestamp>/lsp_patches_downstream.jsonl (no pictures). The
# training split's records: --cfg-options test_dataloader.dataset.split=train
# (1.28 M records, streamed to disk; the 3 x 1,000 branch probabilities are
# left out of the records, the patch dataset does not need them).
# This is the FINE-TUNING patch setting. The test-time setting is separate:
# the downstream configs' test_lsp_setting and test_exit_cfg (early exit).
_base_ = ['./anchornet_8xb32_in1k.py']

custom_hooks = [
    dict(type='LSPHook', setting='downstream', out_file='lsp_patches_downstream.jsonl',
         draw=False, with_branch_scores=False),
]
