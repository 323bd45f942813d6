# Patch classification on the toy clutter set (the toy counterpart of
# configs/anchornet/imagenet/downstream/*_anchornet-lsp_in1k.py): the frozen
# toy AnchorNet (configs/anchornet/toy/anchornet_toy-clutter.py) decides class
# and branch, LSP selects the candidate patches, and the narrow ResNet-18
# classifies them in stages with confidence early exit: an image stops as
# soon as the normalised sum of its patches' softmaxes is confident enough.
# Reports top-1/top-5 and the mean MACs per image (classifier, AnchorNet,
# total, the whole image for comparison), per branch too.
#   python tools/test.py THIS_CONFIG \
#       work_dirs/resnet18-w16_anchornet-lsp-ft_toy-clutter/epoch_6.pth
# Calibrated thresholds (held-out images, see the README):
#   python tools/analysis_tools/calibrate_early_exit.py THIS_CONFIG CKPT \
#       --max-top1-drop 1  # -> work_dirs/<this>_early-exit/early_exit_cfg.py
_base_ = ['./resnet18-w16_toy-clutter_full.py']

anchornet_config = 'configs/anchornet/toy/anchornet_toy-clutter.py'
anchornet_checkpoint = 'work_dirs/anchornet_toy-clutter/epoch_20.pth'

# The test-time patch setting. The fine-tuning patches come from the LSP
# hook's setting instead (configs/anchornet/toy/anchornet_toy-clutter_lsp-
# downstream.py: the paper's slack setting K 24/10/8, T 0.8, P 0.3).
# At test, LSP gives the same candidates in the same order, and early exit
# decides how many of them are classified: one patch per stage, stop when
# max_k of the mean softmax reaches the threshold (0.9 uncalibrated; the
# calibrated toy value is in the README). exit_cfg=None classifies every
# candidate (the paper's text as written:
# resnet18-w16_anchornet-lsp-all-patches_toy-clutter.py).
test_lsp_setting = 'downstream'
test_exit_cfg = dict(stages=(1, ), thresholds=0.9, score='max')

model = dict(
    localizer=anchornet_config,
    localizer_checkpoint=anchornet_checkpoint,
    lsp_setting=test_lsp_setting,
    exit_cfg=test_exit_cfg,
    mode='localize',  # 'rescale': Table 4's control; 'full': the whole image
    max_patches=None)
