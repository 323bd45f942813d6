# GCN-FSOD 10-shot fine-tuning on all 80 COCO classes (TFA's 10-shot files,
# seed 0), from the base-training checkpoint; tested on the 5k minival with the
# novel / base / all table. Protocol: 80-way (TFA's): every class tested, the
# detections of all 80 merged and capped at 100 per image. The paper's
# "10-shot 20-way" (Table 1) tests the novel classes alone:
# ./gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning_20way-novel-test.py.
#   bash tools/dist_train.sh configs/gcn_fsod/coco/gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py 4
_base_ = [
    '../../_base_/models/gcn-fsod_r50_c4.py',
    '../../_base_/datasets/fsod_coco_fine-tuning.py',
    '../../_base_/schedules/schedule_gcn-fsod_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
load_from = 'work_dirs/gcn-fsod_r50_c4_4xb2_coco_base-training/iter_120000.pth'

# Frozen at fine-tuning (the paper is silent): the backbone's stem and res2-res4
# (frozen_stages=3) -- with 10 instances per class, updating the shared
# features would overfit them and shift the base classes' features; res5 (the
# RoI shared head), the lcRPN and the attentive head are fine-tuned.
model = dict(backbone=dict(frozen_stages=3))
# the paper's total batch of 8 (4 GPUs x 2), kept on any number of GPUs
# (8 / N per GPU; --auto-scale-lr: 2 per GPU, lr scaled)
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=8, keep_total_batch=True)
default_hooks = dict(checkpoint=dict(interval=1000))
