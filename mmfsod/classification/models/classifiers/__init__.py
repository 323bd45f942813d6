from .patch_classifier import PatchClassifier, count_macs

__all__ = ['PatchClassifier', 'count_macs']
