from .bbox_heads import AttentiveBBoxHead

__all__ = ['AttentiveBBoxHead']
