# GCN-FSOD base training on PASCAL VOC split 3 (15 base classes of VOC07+12
# trainval; novel: see _base_/datasets/voc_split3.py): 2-way 10-shot
# query-support pairs, batch 8 (4 GPUs x 2), 20k iterations (the COCO schedule
# scaled as _base_/schedules/schedule_gcn-fsod_voc_base-training.py explains);
# tested on the base classes of VOC2007 test (VOC07 11-point AP50).
#   bash tools/dist_train.sh configs/gcn_fsod/voc/gcn-fsod_r50_c4_4xb2_voc-split3_base-training.py 4
_base_ = [
    '../../_base_/models/gcn-fsod_r50_c4.py',
    '../../_base_/datasets/fsod_voc-split3_base-training.py',
    '../../_base_/schedules/schedule_gcn-fsod_voc_base-training.py',
    '../../_base_/default_runtime_det.py'
]
# 4 GPUs x 2 queries = the paper's batch of 8, kept on any number of GPUs
# (8 / N per GPU; --auto-scale-lr: 2 per GPU, lr scaled)
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=8, keep_total_batch=True)
default_hooks = dict(checkpoint=dict(interval=5000, max_keep_ckpts=3))
