# TFA's VOC fine-tuning (./tfa_voc_fine-tuning.py) on split 1 (./voc_split1.py).
_base_ = ['./tfa_voc_fine-tuning.py', './voc_split1.py']

train_dataloader = dict(dataset=dict(dataset=dict(class_splits={{_base_.voc_class_splits}})))
val_dataloader = dict(dataset=dict(class_splits={{_base_.voc_class_splits}}))
test_dataloader = val_dataloader
