from .query_support_data_preprocessor import QuerySupportDataPreprocessor

__all__ = ['QuerySupportDataPreprocessor']
