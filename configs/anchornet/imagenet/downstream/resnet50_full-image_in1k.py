# Table 3, ResNet-50 baseline row: the classifier on the whole 224 x 224 image
# (no AnchorNet); the same metrics (Accuracy + PatchCostMetric) as the patch
# pipeline. Evaluate mmpretrain's checkpoint (a plain classifier checkpoint
# is loaded into the PatchClassifier's classifier):
#   python tools/test.py THIS_CONFIG \
#       https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth
_base_ = ['./resnet50_anchornet-lsp_in1k.py']

model = dict(mode='full', localizer=None, localizer_checkpoint=None)
