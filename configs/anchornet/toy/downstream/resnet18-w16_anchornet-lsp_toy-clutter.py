# Patch classification on the toy clutter set (the toy counterpart of
# configs/anchornet/imagenet/downstream/*_anchornet-lsp_in1k.py): the frozen
# toy AnchorNet (configs/anchornet/toy/anchornet_toy-clutter.py) decides class
# and branch, LSP (downstream setting) selects the patches, the narrow
# ResNet-18 classifies each at its native size and the softmaxes are added.
# Reports top-1/top-5 and the mean MACs per image (classifier, AnchorNet,
# total, the whole image for comparison), per branch too.
#   python tools/test.py THIS_CONFIG \
#       work_dirs/resnet18-w16_anchornet-lsp-ft_toy-clutter/epoch_6.pth
_base_ = ['./resnet18-w16_toy-clutter_full.py']

anchornet_config = 'configs/anchornet/toy/anchornet_toy-clutter.py'
anchornet_checkpoint = 'work_dirs/anchornet_toy-clutter/epoch_20.pth'

model = dict(
    localizer=anchornet_config,
    localizer_checkpoint=anchornet_checkpoint,
    lsp_setting='downstream',
    mode='localize',  # 'rescale': Table 4's control; 'full': the whole image
    max_patches=None)
