# Ablation, Table 2, row 1: Attention-RPN's global feature kernel instead of the lcRPN.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_base-training.py']

model = dict(rpn_head=dict(rpn_type='global_kernel'))
