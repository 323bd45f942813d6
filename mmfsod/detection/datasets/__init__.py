from .toy_shapes import ToyShapesDataset

__all__ = ['ToyShapesDataset']
