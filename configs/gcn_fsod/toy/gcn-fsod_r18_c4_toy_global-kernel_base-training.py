# Ablation on the toy benchmark (the paper's Table 2, row 1): Attention-RPN's
# global feature kernel instead of the lcRPN, toy base training.
_base_ = ['./gcn-fsod_r18_c4_toy_base-training.py']

model = dict(rpn_head=dict(rpn_type='global_kernel'))
