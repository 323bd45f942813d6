from .attentive_bbox_head import AttentiveBBoxHead
from .cosine_sim_bbox_head import CosineSimBBoxHead, CosineSimLinear

__all__ = ['AttentiveBBoxHead', 'CosineSimBBoxHead', 'CosineSimLinear']
