# TFA base training on PASCAL VOC split 2: a standard Faster R-CNN R-101-FPN
# on the 15 base classes of VOC07+12 trainval (TFA's configs/PascalVOC-detection/
# split2/faster_rcnn_R_101_FPN_base2.yaml; schedule: _base_/schedules/
# schedule_tfa_voc_base-training.py), tested on the base classes of VOC2007
# test (VOC07 11-point AP50).
#   bash tools/dist_train.sh configs/tfa/voc/tfa_r101_fpn_8xb2_voc-split2_base-training.py 8
# Next: TFA's randinit surgery, then ./tfa-cos_r101_fpn_8xb2_voc-split2_10shot-fine-tuning.py.
_base_ = [
    '../../_base_/models/faster-rcnn_r101-caffe_fpn.py',
    '../../_base_/datasets/tfa_voc-split2_base-training.py',
    '../../_base_/schedules/schedule_tfa_voc_base-training.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=15)))
# TFA's total batch of 16 (8 GPUs x 2), kept on any number of GPUs:
# 16 / N per GPU; --auto-scale-lr keeps 2 per GPU and scales the lr.
auto_scale_lr = dict(base_batch_size=16, keep_total_batch=True)
default_hooks = dict(checkpoint=dict(interval=6000))
