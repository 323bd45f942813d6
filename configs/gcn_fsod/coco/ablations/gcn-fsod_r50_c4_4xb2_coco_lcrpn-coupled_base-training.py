# Ablation, Table 2, row 2: lcRPN without decoupling (objectness and boxes from the GCN).
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_base-training.py']

model = dict(rpn_head=dict(rpn_type='lcrpn_coupled'))
