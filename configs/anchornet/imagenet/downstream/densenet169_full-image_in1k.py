# Table 3, DenseNet-169 baseline row: the classifier on the whole 224 x 224 image
# (no AnchorNet); the same metrics (Accuracy + PatchCostMetric) as the patch
# pipeline. Evaluate mmpretrain's checkpoint (a plain classifier checkpoint
# is loaded into the PatchClassifier's classifier):
#   python tools/test.py THIS_CONFIG \
#       https://download.openmmlab.com/mmclassification/v0/densenet/densenet169_4xb256_in1k_20220426-a2889902.pth
_base_ = ['./densenet169_anchornet-lsp_in1k.py']

model = dict(mode='full', localizer=None, localizer_checkpoint=None)
