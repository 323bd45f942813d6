# TFA's novel-only fine-tuning (its "novel weights"): the base model without
# its box predictor, the last layer trained on the 20 novel classes' 10-shot
# files. TFA's faster_rcnn_R_101_FPN_ft_novel_10shot.yaml: batch 16,
# lr 0.01, 2,000 iterations, no warm-up, no lr step (its 10k is past the end).
#   python tools/misc/ckpt_surgery.py remove \
#       work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000.pth \
#       --out work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000_remove.pth
#   bash tools/dist_train.sh configs/tfa/coco/tfa_r101_fpn_8xb2_coco_10shot-novel-fine-tuning.py 8
# Next: ckpt_surgery.py combine (see ./tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py).
_base_ = ['./tfa_r101_fpn_8xb2_coco_10shot-fine-tuning.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
load_from = 'work_dirs/tfa_r101_fpn_8xb2_coco_base-training/iter_110000_remove.pth'
train_dataloader = dict(dataset=dict(dataset=dict(classes='NOVEL_CLASSES')))
val_dataloader = dict(dataset=dict(classes='NOVEL_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(_delete_=True, novel='NOVEL_CLASSES'))
test_evaluator = val_evaluator

max_iters = 2000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(checkpoint=dict(interval=500))
