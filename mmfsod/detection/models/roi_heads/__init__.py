from .bbox_heads import AttentiveBBoxHead, CosineSimBBoxHead, CosineSimLinear

__all__ = ['AttentiveBBoxHead', 'CosineSimBBoxHead', 'CosineSimLinear']
