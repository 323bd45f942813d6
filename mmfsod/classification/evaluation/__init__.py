"""Metrics of the classification side (mmpretrain scope)."""
from .patch_cost_metric import PatchCostMetric

__all__ = ['PatchCostMetric']
