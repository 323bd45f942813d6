# GCN-FSOD base training on the 60 COCO base classes (paper, sec. 4.1):
# 2-way 1-shot query-support pairs, 120k iterations, batch 8 (4 GPUs x 2).
#   bash tools/dist_train.sh configs/gcn_fsod/coco/gcn-fsod_r50_c4_4xb2_coco_base-training.py 4
_base_ = [
    '../../_base_/models/gcn-fsod_r50_c4.py',
    '../../_base_/datasets/fsod_coco_base-training.py',
    '../../_base_/schedules/schedule_gcn-fsod_base-training.py',
    '../../_base_/default_runtime_det.py'
]
# 4 GPUs x 2 queries = the paper's batch of 8. The total batch is kept on any
# number of GPUs: tools/train.py sets 8 / N per GPU (N = 1, 2, 4 or 8);
# --auto-scale-lr keeps 2 per GPU and scales the lr with N x 2 / 8.
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=8, keep_total_batch=True)
default_hooks = dict(checkpoint=dict(interval=10000, max_keep_ckpts=3))
