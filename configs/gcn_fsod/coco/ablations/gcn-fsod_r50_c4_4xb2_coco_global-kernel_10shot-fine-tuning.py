# Ablation, Table 2, row 1: Attention-RPN's global feature kernel instead of the lcRPN:
# 10-shot fine-tuning of its base model.
_base_ = ['../gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py']

model = dict(rpn_head=dict(rpn_type='global_kernel'))
load_from = 'work_dirs/gcn-fsod_r50_c4_4xb2_coco_global-kernel_base-training/iter_120000.pth'
