from .query_support_detector import QuerySupportDetector
from .tfa import TFA

__all__ = ['QuerySupportDetector', 'TFA']
