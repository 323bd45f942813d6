# PASCAL VOC few-shot split 3 (Kang et al. 2019, TFA): novel boat, cat,
# motorbike, sheep, sofa; the other 15 classes are base. ALL_CLASSES is TFA's
# label order (the 15 base classes in VOC order, then the 5 novel ones).
# Equal to mmfsod.detection.datasets.VOC_SPLIT3 (tested).
voc_class_splits = dict(
    ALL_CLASSES=('aeroplane', 'bicycle', 'bird', 'bottle', 'bus', 'car', 'chair',
                 'cow', 'diningtable', 'dog', 'horse', 'person', 'pottedplant',
                 'train', 'tvmonitor', 'boat', 'cat', 'motorbike', 'sheep', 'sofa'),
    BASE_CLASSES=('aeroplane', 'bicycle', 'bird', 'bottle', 'bus', 'car', 'chair',
                  'cow', 'diningtable', 'dog', 'horse', 'person', 'pottedplant',
                  'train', 'tvmonitor'),
    NOVEL_CLASSES=('boat', 'cat', 'motorbike', 'sheep', 'sofa'))
