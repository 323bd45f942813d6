from .class_splits import (COCO_ALL_CLASSES, COCO_BASE_CLASSES, COCO_NOVEL_CLASSES,
                           COCO_SPLIT, check_class_split, resolve_classes)
from .few_shot_coco import FewShotCocoDataset
from .few_shot_voc import FewShotVOCDataset
from .keyed_draws import KeyedDrawsDataset
from .pass_samplers import PassDefaultSampler, PassInfiniteSampler
from .query_support import QuerySupportDataset, pack_supports
from .support_templates import (build_template_supports, load_support_templates,
                                save_support_templates, select_support_templates)
from .toy_shapes import ToyShapesDataset
from .toy_voc import ToyShapesVOCDataset
from .transforms import CropSupportInstance
from .voc_few_shot_sampler import (sample_voc_few_shot, voc_split_file_name,
                                   write_voc_few_shot_splits)
from .voc_splits import (TFA_VOC_SHOTS, TOY_VOC_SPLIT, VOC_CLASSES, VOC_SPLIT1,
                         VOC_SPLIT2, VOC_SPLIT3, VOC_SPLITS, voc_split)

__all__ = [
    'COCO_ALL_CLASSES', 'COCO_BASE_CLASSES', 'COCO_NOVEL_CLASSES', 'COCO_SPLIT',
    'check_class_split', 'resolve_classes', 'FewShotCocoDataset', 'KeyedDrawsDataset',
    'PassDefaultSampler', 'PassInfiniteSampler',
    'QuerySupportDataset', 'pack_supports', 'build_template_supports',
    'load_support_templates', 'save_support_templates', 'select_support_templates',
    'ToyShapesDataset', 'CropSupportInstance', 'FewShotVOCDataset',
    'ToyShapesVOCDataset', 'sample_voc_few_shot', 'voc_split_file_name',
    'write_voc_few_shot_splits', 'TFA_VOC_SHOTS', 'TOY_VOC_SPLIT', 'VOC_CLASSES',
    'VOC_SPLIT1', 'VOC_SPLIT2', 'VOC_SPLIT3', 'VOC_SPLITS', 'voc_split'
]
