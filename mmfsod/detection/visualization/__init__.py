from .drawing import add_legend, draw_boxes, draw_detections, format_score, place_labels
from .query_support import draw_query_support
from .tp_fp import draw_tp_fp, match_detections, tp_fp_legend

__all__ = ['add_legend', 'draw_boxes', 'draw_detections', 'draw_query_support',
           'draw_tp_fp', 'format_score', 'match_detections', 'place_labels',
           'tp_fp_legend']
