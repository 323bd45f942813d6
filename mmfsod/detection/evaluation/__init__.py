from .few_shot_coco_metric import FewShotCocoMetric

__all__ = ['FewShotCocoMetric']
