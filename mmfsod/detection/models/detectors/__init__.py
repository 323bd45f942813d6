from .query_support_detector import QuerySupportDetector

__all__ = ['QuerySupportDetector']
