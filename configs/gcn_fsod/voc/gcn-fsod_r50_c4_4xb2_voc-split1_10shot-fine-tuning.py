# GCN-FSOD 10-shot fine-tuning on PASCAL VOC split 1: all 20 classes from
# TFA's 10-shot files (seed 0: Kang et al.'s), from the split's base-training
# checkpoint, 500 iterations of batch 8 (the COCO schedule scaled:
# _base_/schedules/schedule_gcn-fsod_voc_10shot-fine-tuning.py).
# Protocol: 20-way (TFA's): tested on all 20 classes of VOC2007 test, the
# detections of every class merged and capped at 100 per image; VOC07
# 11-point AP50 of the novel (nAP50), base (bAP50) and all classes.
#   bash tools/dist_train.sh \
#       configs/gcn_fsod/voc/gcn-fsod_r50_c4_4xb2_voc-split1_10shot-fine-tuning.py 4
# Another seed: --cfg-options train_dataloader.dataset.dataset.few_shot_ann.seed=3
_base_ = [
    '../../_base_/models/gcn-fsod_r50_c4.py',
    '../../_base_/datasets/fsod_voc-split1_fine-tuning.py',
    '../../_base_/schedules/schedule_gcn-fsod_voc_10shot-fine-tuning.py',
    '../../_base_/default_runtime_det.py'
]
load_from = 'work_dirs/gcn-fsod_r50_c4_4xb2_voc-split1_base-training/iter_20000.pth'

# frozen as on COCO: stem and res2-res4; res5, the lcRPN and the head adapt
model = dict(backbone=dict(frozen_stages=3))
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(base_batch_size=8, keep_total_batch=True)
default_hooks = dict(checkpoint=dict(interval=500))
