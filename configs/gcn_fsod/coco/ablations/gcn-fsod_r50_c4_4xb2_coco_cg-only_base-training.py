# Ablation, Table 3: global matching C_g only.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_base-training.py']

model = dict(roi_head=dict(bbox_head=dict(with_local=False)))
