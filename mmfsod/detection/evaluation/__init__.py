from .few_shot_coco_metric import FewShotCocoMetric

__all__ = ['FewShotCocoMetric']
from .few_shot_voc_metric import FewShotVOCMetric  # noqa: E402
__all__ += ['FewShotVOCMetric']
