# TFA w/cos (the paper's best, COCO novel AP 10.0 at 10 shots): the 10-shot
# fine-tuning of ./tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py with the
# cosine-similarity box classifier, scale 20 (TFA's OUTPUT_LAYER
# "CosineSimOutputLayers", COSINE_SCALE 20).
_base_ = ['./tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py']
model = dict(roi_head=dict(bbox_head=dict(type='CosineSimBBoxHead', scale=20.0)))
