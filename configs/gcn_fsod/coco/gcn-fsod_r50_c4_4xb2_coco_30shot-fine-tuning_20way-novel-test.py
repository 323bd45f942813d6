# GCN-FSOD 30-shot fine-tuning (as ./gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning.py),
# tested under the paper's "30-shot 20-way" protocol: the test set and the
# templates are the 20 novel classes only, so only novel detections fill the
# 100 per image, and the table is the novel group alone.
#
# The two protocols (always say which one a figure used):
# * 80-way (TFA's, the default of the fine-tuning configs): fine-tune on the
#   K-shot set of all 80 classes, test on all 80 with the detections of every
#   class merged and capped at 100 per image; report novel / base / all.
#   Base detections compete with novel ones for the 100 slots.
# * 20-way (this config): the same fine-tuned checkpoint, tested on the 20
#   novel classes only. The training and the validation during training are
#   those of the 80-way config.
# python tools/test.py THIS_CONFIG \
#     work_dirs/gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning/iter_N.pth
_base_ = ['./gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning.py']

test_dataloader = dict(dataset=dict(classes='NOVEL_CLASSES'))
test_evaluator = dict(class_groups=dict(_delete_=True, novel='NOVEL_CLASSES'))
