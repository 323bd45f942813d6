from .toy_clutter import ToyClutterDataset

__all__ = ['ToyClutterDataset']
