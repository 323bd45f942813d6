# Ablation, Table 3: local matching C_l only.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_base-training.py']

model = dict(roi_head=dict(bbox_head=dict(with_global=False)))
