"""Inference and quick fine-tuning on a user's few support boxes."""
from .few_shot_fine_tune import build_fine_tune_config, fine_tune_on_supports
from .few_shot_inferencer import FewShotDetInferencer, expand_query, find_support_pipeline
from .supports import (build_supports, load_support_set, save_support_set,
                       supports_from_coco, supports_from_list, supports_from_templates)

__all__ = [
    'FewShotDetInferencer', 'build_fine_tune_config', 'build_supports', 'expand_query',
    'fine_tune_on_supports', 'find_support_pipeline', 'load_support_set',
    'save_support_set', 'supports_from_coco', 'supports_from_list',
    'supports_from_templates'
]
