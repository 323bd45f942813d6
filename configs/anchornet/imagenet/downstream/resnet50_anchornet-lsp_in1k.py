# Table 3, ResNet-50 rows: classify every ImageNet val image (224 x 224) from
# the semantic patches a frozen AnchorNet localizes (LSP, the paper's
# downstream setting K = 24/10/8, T = 0.8, P = 0.3), each patch at its native
# size, adding the patches' softmax distributions (section 4.3). Reports
# top-1/top-5 and the mean MACs per image: the classifier on the patches, the
# AnchorNet (left out by the paper) and their sum, beside the classifier on
# the whole 224 image; per branch, the share of images, patches per image,
# MACs and top-1.
#   python tools/test.py THIS_CONFIG \
#       work_dirs/resnet50_anchornet-lsp-ft_8xb32_in1k/epoch_5.pth
_base_ = [
    '../../../_base_/models/resnet50_in1k_cls.py',
    './_base_/in1k-224_anchornet-lsp.py',
]

model = dict(
    _delete_=True,
    type='PatchClassifier',
    localizer={{_base_.anchornet_config}},
    localizer_checkpoint={{_base_.anchornet_checkpoint}},
    classifier={{_base_.model}},
    lsp_setting={{_base_.test_lsp_setting}},
    exit_cfg={{_base_.test_exit_cfg}},
    mode='localize',  # 'rescale': Table 4's control; 'full': the whole image
    max_patches=None)
