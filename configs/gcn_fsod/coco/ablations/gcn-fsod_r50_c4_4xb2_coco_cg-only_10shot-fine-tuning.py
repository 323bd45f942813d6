# Ablation, Table 3: global matching C_g only: 10-shot fine-tuning of its base model.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py']

model = dict(roi_head=dict(bbox_head=dict(with_local=False)))
load_from = 'work_dirs/gcn-fsod_r50_c4_4xb2_coco_cg-only_base-training/iter_120000.pth'
