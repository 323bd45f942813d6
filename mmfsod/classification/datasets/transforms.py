"""Data transforms of the semantic-patch pipeline (mmpretrain scope)."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CropPatch(BaseTransform):
    """Crop an LSP patch box out of the image the localizer saw.

    The box (``results[box_key]``, ``[x1, y1, x2, y2]`` half-open, in pixels
    of the network input, as :class:`~mmfsod.classification.datasets.LSPPatchDataset`
    gives it) refers to the image *after* the localizer's test pipeline (e.g.
    ``Resize(scale=(224, 224))``), so the same resize must come before this
    transform. With ``results['input_size']`` present, the image must have
    exactly that ``(H, W)``.

    Required keys: ``img``, ``box_key``; optional ``input_size``, ``img_path``
    (named in errors). Modified keys: ``img`` (``(y2 - y1, x2 - x1, C)``),
    ``img_shape``.

    Args:
        box_key (str): key of the box. Default ``'patch_box'``.
    """

    def __init__(self, box_key: str = 'patch_box') -> None:
        self.box_key = box_key

    def transform(self, results: dict) -> Optional[dict]:
        img = results['img']  # (H, W, C)
        h, w = img.shape[:2]
        where = results.get('img_path', '<image>')
        input_size = results.get('input_size')
        if input_size is not None and tuple(int(v) for v in input_size) != (h, w):
            raise ValueError(
                f'CropPatch: {where} is {h}x{w} after the pipeline, but its LSP record '
                f'has input_size {list(input_size)} (H, W); resize it as the '
                f'localizer\'s test pipeline did (e.g. Resize(scale=({input_size[1]}, '
                f'{input_size[0]})) before CropPatch)')
        if self.box_key not in results:
            raise KeyError(f'CropPatch: {where} has no {self.box_key!r} in its results')
        box = [int(v) for v in results[self.box_key]]
        if len(box) != 4:
            raise ValueError(f'CropPatch: {where}: {self.box_key} must be [x1, y1, x2, '
                             f'y2], got {results[self.box_key]!r}')
        x1, y1, x2, y2 = box
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise ValueError(f'CropPatch: {where}: box {box} is empty or outside the '
                             f'{h}x{w} image')
        results['img'] = np.ascontiguousarray(img[y1:y2, x1:x2])  # (y2-y1, x2-x1, C)
        results['img_shape'] = (y2 - y1, x2 - x1)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(box_key={self.box_key!r})'
