# The patch pipeline without early exit: every LSP candidate (downstream
# setting, K 24/10/8 -- exactly K at 224) is classified and the softmaxes are
# added, as the paper's section 4.3 reads. The reference the early-exit
# thresholds are calibrated against.
#   python tools/test.py THIS_CONFIG \
#       work_dirs/resnet18-w16_anchornet-lsp-ft_toy-clutter/epoch_6.pth
_base_ = ['./resnet18-w16_anchornet-lsp_toy-clutter.py']

model = dict(exit_cfg=None)
