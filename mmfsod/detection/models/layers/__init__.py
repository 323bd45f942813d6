from .graph_correspondence import (GraphCorrespondence, gaussian_adjacency,
                                   normalized_adjacency)

__all__ = ['GraphCorrespondence', 'gaussian_adjacency', 'normalized_adjacency']
