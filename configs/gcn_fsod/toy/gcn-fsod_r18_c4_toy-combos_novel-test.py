# The toy shape-combination base model tested on the 12 novel classes only,
# with novel supports and no fine-tuning: the templates come from a json
# (tools/few_shot_demo.py --save-templates, from the 5- or 10-shot files):
#   python tools/test.py configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy-combos_novel-test.py \
#       work_dirs/gcn-fsod_r18_c4_toy-combos_base-training/iter_1000.pth \
#       --cfg-options custom_hooks.0.templates_file=TEMPLATES.json
_base_ = ['./gcn-fsod_r18_c4_toy-combos_base-training.py']

val_dataloader = dict(dataset=dict(classes='NOVEL_CLASSES'))
test_dataloader = val_dataloader
val_evaluator = dict(class_groups=dict(
    _delete_=True, novel={{_base_.toy_class_splits.NOVEL_CLASSES}}))
test_evaluator = val_evaluator
