# GCN-FSOD's VOC base-training (./fsod_voc_base-training.py) on split 2 (./voc_split2.py).
_base_ = ['./fsod_voc_base-training.py', './voc_split2.py']

train_dataloader = dict(dataset=dict(dataset=dict(class_splits={{_base_.voc_class_splits}})))
val_dataloader = dict(dataset=dict(class_splits={{_base_.voc_class_splits}}))
test_dataloader = val_dataloader
