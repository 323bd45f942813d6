# Ablation on the toy benchmark (the paper's Table 2, row 1): Attention-RPN's
# global feature kernel instead of the lcRPN, 10-shot fine-tuning of its
# toy base model.
_base_ = ['./gcn-fsod_r18_c4_toy_10shot-fine-tuning.py']

model = dict(rpn_head=dict(rpn_type='global_kernel'))
load_from = 'work_dirs/gcn-fsod_r18_c4_toy_global-kernel_base-training/iter_1000.pth'
