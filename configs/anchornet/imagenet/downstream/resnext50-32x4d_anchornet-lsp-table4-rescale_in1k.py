# Table 4, ResNeXt-50 32x4d "-R" columns: the whole image rescaled to the patch size
# AnchorNet decides (63, 95 or 111 px) instead of the localized patch; the
# same single input size per image as
# resnext50-32x4d_anchornet-lsp-table4-localize_in1k.py.
# Each column on every image (the paper's reading): one run per size with
#   --cfg-options model.branch=B63   (or B95, B111)
# Evaluated, as the paper's Table 4, "on the same networks without any extra
# trainings": by default the full-image classifier before patch fine-tuning
# (mmpretrain's ImageNet checkpoint, a plain classifier checkpoint loaded into
# model.classifier); pass it to tools/test.py (or the fine-tuned checkpoint
# to evaluate that one instead):
#   python tools/test.py THIS_CONFIG $FULL_IMAGE_CHECKPOINT  (= load_from below)
_base_ = ['./resnext50-32x4d_anchornet-lsp_in1k.py']

model = dict(mode='rescale', max_patches=1, exit_cfg=None)
load_from = ('https://download.openmmlab.com/mmclassification/v0/resnext/'
             'resnext50_32x4d_b32x8_imagenet_20210429-56066e27.pth')
