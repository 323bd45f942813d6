"""Base / novel class splits, as data.

A *class split* is a dict with the keys of :data:`SPLIT_NAMES`; each maps to a
tuple of class names. ``ALL_CLASSES`` fixes the order of the labels when all
classes are trained or tested together; ``BASE_CLASSES`` and ``NOVEL_CLASSES``
are disjoint and together make ``ALL_CLASSES``.

The COCO split of the few-shot detection literature (Kang et al. 2019, TFA,
Attention-RPN, GCN-FSOD) is built in as :data:`COCO_SPLIT`: the 20 PASCAL VOC
categories, by their COCO names, are novel and the other 60 are base. Any
other dataset declares its split in its config (see
``configs/_base_/datasets/fsod_toy-shapes.py``) and passes it as
``class_splits`` to :class:`~mmfsod.detection.datasets.FewShotCocoDataset`.

Pure Python: no torch, no registry.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

SPLIT_NAMES: Tuple[str, ...] = ('ALL_CLASSES', 'BASE_CLASSES', 'NOVEL_CLASSES')

# The 80 COCO categories in category-id order (mmdet's CocoDataset order).
COCO_ALL_CLASSES: Tuple[str, ...] = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush')

# The 20 PASCAL VOC classes under their COCO names (VOC's aeroplane, diningtable,
# motorbike, pottedplant, sofa and tvmonitor are COCO's airplane, dining table,
# motorcycle, potted plant, couch and tv), in COCO category-id order.
COCO_NOVEL_CLASSES: Tuple[str, ...] = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'boat', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'bottle', 'chair',
    'couch', 'potted plant', 'dining table', 'tv')

COCO_BASE_CLASSES: Tuple[str, ...] = tuple(
    c for c in COCO_ALL_CLASSES if c not in COCO_NOVEL_CLASSES)

COCO_SPLIT: Dict[str, Tuple[str, ...]] = dict(
    ALL_CLASSES=COCO_ALL_CLASSES,
    BASE_CLASSES=COCO_BASE_CLASSES,
    NOVEL_CLASSES=COCO_NOVEL_CLASSES)


def check_class_split(class_splits: dict, where: str = 'class_splits'
                      ) -> Dict[str, Tuple[str, ...]]:
    """Validate a class split and return it with tuple values.

    ``ALL_CLASSES`` may be left out; it is then ``BASE_CLASSES`` followed by
    ``NOVEL_CLASSES``. Errors name ``where`` (the config key or file) and the
    offending classes.
    """
    if not isinstance(class_splits, dict):
        raise TypeError(f'{where} must be a dict of split name -> class names, '
                        f'got {type(class_splits).__name__}')
    unknown = sorted(set(class_splits) - set(SPLIT_NAMES))
    if unknown:
        raise ValueError(f'{where}: unknown split names {unknown}; the split '
                         f'names are {list(SPLIT_NAMES)}')
    missing = [k for k in ('BASE_CLASSES', 'NOVEL_CLASSES') if k not in class_splits]
    if missing:
        raise ValueError(f'{where} must give {missing}')
    split = {}
    for key, names in class_splits.items():
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError(f'{where}[{key!r}] must be a sequence of class names')
        names = tuple(names)
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f'{where}[{key!r}] names classes twice: {dup}')
        split[key] = names
    both = sorted(set(split['BASE_CLASSES']) & set(split['NOVEL_CLASSES']))
    if both:
        raise ValueError(f'{where}: classes both base and novel: {both}')
    union = split['BASE_CLASSES'] + split['NOVEL_CLASSES']
    if 'ALL_CLASSES' not in split:
        split['ALL_CLASSES'] = union
    elif set(split['ALL_CLASSES']) != set(union):
        extra = sorted(set(split['ALL_CLASSES']) - set(union))
        lost = sorted(set(union) - set(split['ALL_CLASSES']))
        raise ValueError(f'{where}: ALL_CLASSES must be BASE_CLASSES + NOVEL_CLASSES; '
                         f'only in ALL_CLASSES: {extra}, missing from it: {lost}')
    return {k: split[k] for k in SPLIT_NAMES}


def resolve_classes(classes: Union[str, Sequence[str]],
                    class_splits: Optional[dict] = None,
                    where: str = 'classes') -> Tuple[str, ...]:
    """The class names meant by ``classes``.

    Args:
        classes (str | Sequence[str]): a split name of :data:`SPLIT_NAMES`
            or the class names themselves.
        class_splits (dict, optional): the split the name refers to;
            :data:`COCO_SPLIT` when ``None``.
        where (str): what to name in errors (e.g. the dataset and its file).
    """
    if isinstance(classes, str):
        if classes not in SPLIT_NAMES:
            raise ValueError(f'{where}: unknown class split name {classes!r}; '
                             f'use one of {list(SPLIT_NAMES)} or a tuple of '
                             'class names')
        split = check_class_split(COCO_SPLIT if class_splits is None else class_splits)
        return split[classes]
    names = tuple(classes)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f'{where}: expected a split name or a non-empty sequence '
                         f'of class names, got {classes!r}')
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f'{where}: classes named twice: {dup}')
    return names
