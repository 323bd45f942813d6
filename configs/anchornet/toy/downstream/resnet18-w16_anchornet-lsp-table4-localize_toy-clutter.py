# Table 4 "-L" on the toy clutter set: one localized patch per image (the one
# of maximum activation, at the scale AnchorNet decides). Compare with
# resnet18-w16_anchornet-lsp-table4-rescale_toy-clutter.py.
# Evaluated, as the paper's Table 4, "on the same networks without any extra
# trainings": by default the full-image classifier before patch fine-tuning
# (resnet18-w16_toy-clutter_full.py, a plain classifier checkpoint loaded into
# model.classifier); pass it to tools/test.py (or the fine-tuned checkpoint
# to evaluate that one instead):
#   python tools/test.py THIS_CONFIG work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth
_base_ = ['./resnet18-w16_anchornet-lsp_toy-clutter.py']

model = dict(mode='localize', max_patches=1, exit_cfg=None)
load_from = 'work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth'
