# TFA w/cos, 10-shot fine-tuning on all 20 classes of PASCAL VOC split 2
# (TFA's 10-shot files, seed 0: Kang et al.'s): the box predictor of the
# base model extended to 20 classes by TFA's randinit surgery (its
# model_reset_surgery.pth), then only the cosine box classifier (scale 20)
# and the regressor trained; everything else frozen (TFA's BACKBONE.FREEZE,
# PROPOSAL_GENERATOR.FREEZE, ROI_HEADS.FREEZE_FEAT). Schedule: TFA's
# split2/faster_rcnn_R_101_FPN_ft_all2_10shot.yaml (_base_/schedules/
# schedule_tfa_voc_10shot-fine-tuning.py). Protocol: 20-way (TFA's): tested
# on all 20 classes of VOC2007 test; VOC07 11-point AP50 of the novel (nAP50),
# base (bAP50) and all classes.
#   python tools/misc/ckpt_surgery.py randinit \
#       work_dirs/tfa_r101_fpn_8xb2_voc-split2_base-training/iter_18000.pth \
#       --config configs/tfa/voc/tfa-cos_r101_fpn_8xb2_voc-split2_10shot-fine-tuning.py \
#       --out work_dirs/tfa_r101_fpn_8xb2_voc-split2_base-training/iter_18000_randinit.pth
#   bash tools/dist_train.sh \
#       configs/tfa/voc/tfa-cos_r101_fpn_8xb2_voc-split2_10shot-fine-tuning.py 8
# Another seed: --cfg-options train_dataloader.dataset.dataset.few_shot_ann.seed=3
_base_ = [
    '../../_base_/models/faster-rcnn_r101-caffe_fpn.py',
    '../../_base_/datasets/tfa_voc-split2_fine-tuning.py',
    '../../_base_/schedules/schedule_tfa_voc_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
model = dict(
    type='TFA',  # everything frozen but roi_head.bbox_head.fc_cls / fc_reg
    backbone=dict(frozen_stages=4, init_cfg=None),
    roi_head=dict(bbox_head=dict(type='CosineSimBBoxHead', scale=20.0, num_classes=20)))
# TFA's total batch of 16 (8 GPUs x 2), kept on any number of GPUs
auto_scale_lr = dict(base_batch_size=16, keep_total_batch=True)
load_from = 'work_dirs/tfa_r101_fpn_8xb2_voc-split2_base-training/iter_18000_randinit.pth'
default_hooks = dict(checkpoint=dict(interval=10000))
# split 2 (TFA's split2/faster_rcnn_R_101_FPN_ft_all2_10shot.yaml): lr 0.005,
# lr / 10 at 35k, no warm-up
optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=40000, milestones=[35000],
         gamma=0.1)
]
