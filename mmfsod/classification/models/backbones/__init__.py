from .anchornet import (ANCHORNET_ARCH, AnchorNet, UnpaddedInvertedResidual,
                        spatial_layer_specs)

__all__ = ['ANCHORNET_ARCH', 'AnchorNet', 'UnpaddedInvertedResidual',
           'spatial_layer_specs']
