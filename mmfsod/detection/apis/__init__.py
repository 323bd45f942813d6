"""Inference and quick fine-tuning on a user's few support boxes."""
from .few_shot_fine_tune import build_fine_tune_config, fine_tune_on_supports
from .few_shot_inferencer import (FewShotDetInferencer, coco_detections, expand_query,
                                  find_support_pipeline)
from .paths import CocoIds, config_image_dirs, find_image_dir, image_dir_candidates
from .supports import (build_supports, load_support_set, save_support_set,
                       supports_from_coco, supports_from_list, supports_from_templates)

__all__ = [
    'CocoIds', 'FewShotDetInferencer', 'build_fine_tune_config', 'build_supports',
    'coco_detections', 'config_image_dirs', 'expand_query', 'find_image_dir',
    'find_support_pipeline', 'fine_tune_on_supports', 'image_dir_candidates',
    'load_support_set', 'save_support_set', 'supports_from_coco', 'supports_from_list',
    'supports_from_templates'
]
