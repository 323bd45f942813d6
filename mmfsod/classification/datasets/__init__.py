from .lsp_patches import LSPPatchDataset, PatchSizeBatchSampler
from .toy_clutter import ToyClutterDataset
from .transforms import CropPatch

__all__ = ['CropPatch', 'LSPPatchDataset', 'PatchSizeBatchSampler',
           'ToyClutterDataset']
