from .class_splits import (COCO_ALL_CLASSES, COCO_BASE_CLASSES, COCO_NOVEL_CLASSES,
                           COCO_SPLIT, check_class_split, resolve_classes)
from .few_shot_coco import FewShotCocoDataset
from .keyed_draws import KeyedDrawsDataset
from .pass_samplers import PassDefaultSampler, PassInfiniteSampler
from .query_support import QuerySupportDataset, pack_supports
from .support_templates import (build_template_supports, load_support_templates,
                                save_support_templates, select_support_templates)
from .toy_shapes import ToyShapesDataset
from .transforms import CropSupportInstance

__all__ = [
    'COCO_ALL_CLASSES', 'COCO_BASE_CLASSES', 'COCO_NOVEL_CLASSES', 'COCO_SPLIT',
    'check_class_split', 'resolve_classes', 'FewShotCocoDataset', 'KeyedDrawsDataset',
    'PassDefaultSampler', 'PassInfiniteSampler',
    'QuerySupportDataset', 'pack_supports', 'build_template_supports',
    'load_support_templates', 'save_support_templates', 'select_support_templates',
    'ToyShapesDataset', 'CropSupportInstance'
]
