"""PASCAL VOC few-shot class splits, as data.

The three splits of the few-shot detection literature (Kang et al. 2019,
TFA, Meta R-CNN, FSDetView, DeFRCN): 15 base and 5 novel classes of the 20
VOC categories. Each split is a class split dict (see
:mod:`~mmfsod.detection.datasets.class_splits`) whose ``ALL_CLASSES`` is
TFA's label order: the 15 base classes, then the 5 novel ones, each group in
the order TFA's ``builtin_meta.py`` lists it (so label ``i`` means the same
class as in TFA's models).

:data:`VOC_CLASSES` is the VOC order (mmdet's ``VOCDataset``); it is also
the order in which TFA's VOC sampler visits the classes, so it fixes the
random stream of the K-shot files (see
:mod:`~mmfsod.detection.datasets.voc_few_shot_sampler`).

Pure Python: no torch, no registry.
"""
from typing import Dict, Tuple

# The 20 VOC categories in VOC order (mmdet's VOCDataset.METAINFO).
VOC_CLASSES: Tuple[str, ...] = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

# The shots of TFA's VOC splits.
TFA_VOC_SHOTS: Tuple[int, ...] = (1, 2, 3, 5, 10)

_NOVEL = {
    1: ('bird', 'bus', 'cow', 'motorbike', 'sofa'),
    2: ('aeroplane', 'bottle', 'cow', 'horse', 'sofa'),
    3: ('boat', 'cat', 'motorbike', 'sheep', 'sofa'),
}


def _split(novel: Tuple[str, ...]) -> Dict[str, Tuple[str, ...]]:
    # TFA lists the base classes of every split in VOC order (checked in the
    # tests against the literal lists of its builtin_meta.py).
    base = tuple(c for c in VOC_CLASSES if c not in novel)
    return dict(ALL_CLASSES=base + novel, BASE_CLASSES=base, NOVEL_CLASSES=novel)


VOC_SPLIT1: Dict[str, Tuple[str, ...]] = _split(_NOVEL[1])
VOC_SPLIT2: Dict[str, Tuple[str, ...]] = _split(_NOVEL[2])
VOC_SPLIT3: Dict[str, Tuple[str, ...]] = _split(_NOVEL[3])
VOC_SPLITS: Dict[int, Dict[str, Tuple[str, ...]]] = {
    1: VOC_SPLIT1, 2: VOC_SPLIT2, 3: VOC_SPLIT3}

# The toy shapes set written as VOC (tools/data/generate_toy_shapes.py
# --format voc): the split of the COCO toy benchmark
# (configs/_base_/datasets/fsod_toy-shapes.py), 9 base / 3 novel.
TOY_VOC_SPLIT: Dict[str, Tuple[str, ...]] = dict(
    ALL_CLASSES=('red_circle', 'green_square', 'blue_triangle', 'yellow_star',
                 'magenta_cross', 'cyan_diamond', 'orange_ring', 'white_hexagon',
                 'purple_crescent', 'lime_arrow', 'pink_ellipse', 'navy_lshape'),
    BASE_CLASSES=('red_circle', 'green_square', 'yellow_star', 'magenta_cross',
                  'orange_ring', 'white_hexagon', 'lime_arrow', 'pink_ellipse',
                  'navy_lshape'),
    NOVEL_CLASSES=('blue_triangle', 'cyan_diamond', 'purple_crescent'))


def voc_split(split_id: int) -> Dict[str, Tuple[str, ...]]:
    """The class split of VOC split ``split_id`` (1, 2 or 3)."""
    if split_id not in VOC_SPLITS:
        raise ValueError(f'VOC few-shot split must be 1, 2 or 3, got {split_id!r}')
    return dict(VOC_SPLITS[split_id])
