from .inference_opt import (ChannelAffine, optimize_for_inference,
                            replace_depthwise_1x1)

__all__ = ['ChannelAffine', 'optimize_for_inference', 'replace_depthwise_1x1']
