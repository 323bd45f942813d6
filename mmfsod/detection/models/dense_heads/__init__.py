from .local_correspondence_rpn_head import LocalCorrespondenceRPNHead

__all__ = ['LocalCorrespondenceRPNHead']
