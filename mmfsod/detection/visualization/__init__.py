from .query_support import draw_query_support

__all__ = ['draw_query_support']
