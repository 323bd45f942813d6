from .attentive_bbox_head import AttentiveBBoxHead

__all__ = ['AttentiveBBoxHead']
