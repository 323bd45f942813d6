# TFA (Wang et al. 2020) base training: a standard Faster R-CNN R-101-FPN on
# the 60 COCO base classes (TFA's configs/COCO-detection/
# faster_rcnn_R_101_FPN_base.yaml; schedule: _base_/schedules/
# schedule_tfa_base-training.py).
#   bash tools/dist_train.sh configs/tfa/coco/tfa_r101_fpn_8xb2_coco_base-training.py 8
# Next: ./tfa_r101_fpn_8xb2_coco_10shot-novel-fine-tuning.py (TFA's
# surgery: remove, novel-only fine-tuning, combine) or straight to
# ./tfa-cos_r101_fpn_8xb2_coco_10shot-fine-tuning.py after randinit.
_base_ = [
    '../../_base_/models/faster-rcnn_r101-caffe_fpn.py',
    '../../_base_/datasets/tfa_coco_base-training.py',
    '../../_base_/schedules/schedule_tfa_base-training.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=60)))
# TFA's total batch of 16 (8 GPUs x 2), kept on any number of GPUs:
# 16 / N per GPU; --auto-scale-lr keeps 2 per GPU and scales the lr.
auto_scale_lr = dict(base_batch_size=16, keep_total_batch=True)
default_hooks = dict(checkpoint=dict(interval=10000))
