# PASCAL VOC few-shot split 2 (Kang et al. 2019, TFA): novel aeroplane,
# bottle, cow, horse, sofa; the other 15 classes are base. ALL_CLASSES is
# TFA's label order (the 15 base classes in VOC order, then the 5 novel ones).
# Equal to mmfsod.detection.datasets.VOC_SPLIT2 (tested).
voc_class_splits = dict(
    ALL_CLASSES=('bicycle', 'bird', 'boat', 'bus', 'car', 'cat', 'chair',
                 'diningtable', 'dog', 'motorbike', 'person', 'pottedplant', 'sheep',
                 'train', 'tvmonitor', 'aeroplane', 'bottle', 'cow', 'horse', 'sofa'),
    BASE_CLASSES=('bicycle', 'bird', 'boat', 'bus', 'car', 'cat', 'chair',
                  'diningtable', 'dog', 'motorbike', 'person', 'pottedplant', 'sheep',
                  'train', 'tvmonitor'),
    NOVEL_CLASSES=('aeroplane', 'bottle', 'cow', 'horse', 'sofa'))
