# PASCAL VOC few-shot split 1 (Kang et al. 2019, TFA): novel bird, bus, cow,
# motorbike, sofa; the other 15 classes are base. ALL_CLASSES is TFA's label
# order (the 15 base classes in VOC order, then the 5 novel ones), so label i
# is TFA's class i. Equal to mmfsod.detection.datasets.VOC_SPLIT1 (tested);
# the fsod_voc-split1_* / tfa_voc-split1_* dataset configs apply it.
voc_class_splits = dict(
    ALL_CLASSES=('aeroplane', 'bicycle', 'boat', 'bottle', 'car', 'cat', 'chair',
                 'diningtable', 'dog', 'horse', 'person', 'pottedplant', 'sheep',
                 'train', 'tvmonitor', 'bird', 'bus', 'cow', 'motorbike', 'sofa'),
    BASE_CLASSES=('aeroplane', 'bicycle', 'boat', 'bottle', 'car', 'cat', 'chair',
                  'diningtable', 'dog', 'horse', 'person', 'pottedplant', 'sheep',
                  'train', 'tvmonitor'),
    NOVEL_CLASSES=('bird', 'bus', 'cow', 'motorbike', 'sofa'))
