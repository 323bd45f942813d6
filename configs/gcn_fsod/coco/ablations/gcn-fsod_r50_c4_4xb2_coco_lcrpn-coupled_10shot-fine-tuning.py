# Ablation, Table 2, row 2: lcRPN without decoupling (objectness and boxes from the
# GCN): 10-shot fine-tuning of its base model.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py']

model = dict(rpn_head=dict(rpn_type='lcrpn_coupled'))
load_from = 'work_dirs/gcn-fsod_r50_c4_4xb2_coco_lcrpn-coupled_base-training/iter_120000.pth'
