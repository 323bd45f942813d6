# Ablation, Table 3: R_s, regression from stacked support/query features instead of R_c:
# 10-shot fine-tuning of its base model.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py']

model = dict(roi_head=dict(bbox_head=dict(reg_type='stacked')))
load_from = 'work_dirs/gcn-fsod_r50_c4_4xb2_coco_stacked-reg_base-training/iter_120000.pth'
