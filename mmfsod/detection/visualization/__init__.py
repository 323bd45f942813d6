from .query_support import draw_query_support
from .tp_fp import draw_tp_fp, match_detections

__all__ = ['draw_query_support', 'draw_tp_fp', 'match_detections']
