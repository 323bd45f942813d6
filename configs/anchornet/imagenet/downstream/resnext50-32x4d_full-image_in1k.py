# Table 3, ResNeXt-50 32x4d baseline row: the classifier on the whole 224 x 224 image
# (no AnchorNet); the same metrics (Accuracy + PatchCostMetric) as the patch
# pipeline. Evaluate mmpretrain's checkpoint (a plain classifier checkpoint
# is loaded into the PatchClassifier's classifier):
#   python tools/test.py THIS_CONFIG \
#       https://download.openmmlab.com/mmclassification/v0/resnext/resnext50_32x4d_b32x8_imagenet_20210429-56066e27.pth
_base_ = ['./resnext50-32x4d_anchornet-lsp_in1k.py']

model = dict(mode='full', localizer=None, localizer_checkpoint=None)
