# GCN-FSOD toy 10-shot fine-tuning (as ./gcn-fsod_r18_c4_toy_10shot-fine-tuning.py),
# tested on the 3 novel classes only: the toy counterpart of the paper's
# "10-shot 20-way" protocol (only novel detections fill the 100 per image,
# the table is the novel group alone). The default, 12-way, is TFA's
# protocol: every class tested, detections of all classes merged and capped
# at 100 per image, novel / base / all reported. Same checkpoint for both:
# python tools/test.py THIS_CONFIG \
#     work_dirs/gcn-fsod_r18_c4_toy_10shot-fine-tuning/iter_300.pth
_base_ = ['./gcn-fsod_r18_c4_toy_10shot-fine-tuning.py']

test_dataloader = dict(dataset=dict(classes='NOVEL_CLASSES'))
test_evaluator = dict(class_groups=dict(
    _delete_=True, novel={{_base_.toy_class_splits.NOVEL_CLASSES}}))
