# gcn_fsod_tiny_fine-tuning.py tested on the novel classes only (the
# novel-only protocol of ../../../configs/gcn_fsod/toy/*_novel-test.py).
_base_ = ['./gcn_fsod_tiny_fine-tuning.py']

test_dataloader = dict(dataset=dict(classes='NOVEL_CLASSES'))
test_evaluator = dict(class_groups=dict(
    _delete_=True, novel={{_base_.toy_class_splits.NOVEL_CLASSES}}))
