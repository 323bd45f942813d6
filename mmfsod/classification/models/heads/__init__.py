from .anchornet_head import AnchorNetHead, attention_maps

__all__ = ['AnchorNetHead', 'attention_maps']
