# Table 4 "-R" on the toy clutter set: the whole image rescaled to the patch
# size AnchorNet decides (63, 95 or 111 px) instead of the localized patch.
# Evaluated, as the paper's Table 4, "on the same networks without any extra
# trainings": by default the full-image classifier before patch fine-tuning
# (resnet18-w16_toy-clutter_full.py, a plain classifier checkpoint loaded into
# model.classifier); pass it to tools/test.py (or the fine-tuned checkpoint
# to evaluate that one instead):
#   python tools/test.py THIS_CONFIG work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth
_base_ = ['./resnet18-w16_anchornet-lsp_toy-clutter.py']

model = dict(mode='rescale', max_patches=1, exit_cfg=None)
load_from = 'work_dirs/resnet18-w16_toy-clutter_full/epoch_12.pth'
