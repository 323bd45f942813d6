# Ablation, Table 3: R_s, regression from stacked support/query features instead of R_c.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_base-training.py']

model = dict(roi_head=dict(bbox_head=dict(reg_type='stacked')))
