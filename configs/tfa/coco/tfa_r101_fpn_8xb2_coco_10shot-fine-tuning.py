# TFA w/fc, 10-shot fine-tuning on all 80 COCO classes (TFA's balanced
# 10-shot files, seed 0): only the last layer (box classifier and regressor)
# is trained, everything else frozen (TFA's BACKBONE.FREEZE,
# PROPOSAL_GENERATOR.FREEZE, ROI_HEADS.FREEZE_FEAT). Schedule: TFA's
# faster_rcnn_R_101_FPN_ft_all_10shot.yaml (_base_/schedules/
# schedule_tfa_10shot-fine-tuning.py). Tested 80-way (TFA's protocol).
# Its starting point, as TFA's config: the base model combined with the
# novel-only fine-tuned one,
#   python tools/misc/ckpt_surgery.py combine \
#       work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000.pth \
#       work_dirs/tfa_r101_fpn_8xb2_coco_10shot-novel-fine-tuning/iter_2000.pth \
#       --config configs/tfa/coco/tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py \
#       --out work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000_combine_10shot.pth
# or TFA's random novel weights (its README's "randinit"):
#   python tools/misc/ckpt_surgery.py randinit \
#       work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000.pth \
#       --config configs/tfa/coco/tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py \
#       --out work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000_randinit.pth
#   bash tools/dist_train.sh configs/tfa/coco/tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py 8 \
#       --cfg-options load_from=<that file>
# Another seed: --cfg-options train_dataloader.dataset.dataset.few_shot_ann.seed=3
_base_ = [
    '../../_base_/models/faster-rcnn_r101-caffe_fpn.py',
    '../../_base_/datasets/tfa_coco_fine-tuning.py',
    '../../_base_/schedules/schedule_tfa_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(
    type='TFA',  # everything frozen but roi_head.bbox_head.fc_cls / fc_reg
    backbone=dict(frozen_stages=4, init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=80)))
# TFA's total batch of 16 (8 GPUs x 2), kept on any number of GPUs:
# 16 / N per GPU; --auto-scale-lr keeps 2 per GPU and scales the lr.
auto_scale_lr = dict(base_batch_size=16, keep_total_batch=True)
load_from = 'work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000_combine_10shot.pth'
default_hooks = dict(checkpoint=dict(interval=10000))
