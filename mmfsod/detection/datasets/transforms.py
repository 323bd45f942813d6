"""Transforms of support instances (the query side uses mmdet's)."""
import math
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CropSupportInstance(BaseTransform):
    """Crop an image to its one annotated instance, with optional context.

    A support pipeline loads a whole image whose ``gt_bboxes`` hold exactly
    the support instance (see :class:`QuerySupportDataset`); this transform
    cuts out that box, widened by ``context`` times its width (height) on the
    left and right (top and bottom) and clipped to the image, so that a
    following ``Resize(scale=(320, 320), keep_ratio=True)`` and
    ``Pad(size=(320, 320), pad_val=dict(img=<mean pixel>))`` give the
    paper's zero-padded 320 x 320 support (zero after normalisation).

    Required keys: ``img``, ``gt_bboxes`` (one box).
    Modified keys: ``img``, ``img_shape``, ``gt_bboxes`` (now in crop
    coordinates). Added key: ``support_crop`` ((4,) int x1, y1, x2, y2 of the
    crop in the source image).

    Args:
        context (float): margin on each side as a fraction of the box's size;
            0 crops the box itself. Defaults to 0.
    """

    def __init__(self, context: float = 0.0) -> None:
        if not context >= 0:
            raise ValueError(f'CropSupportInstance: context must be >= 0, got {context}')
        self.context = float(context)

    def transform(self, results: dict) -> Optional[dict]:
        boxes = results['gt_bboxes']
        if len(boxes) != 1:
            raise ValueError(f'CropSupportInstance: {results.get("img_path")} must come '
                             f'with exactly one support box, got {len(boxes)}')
        img = results['img']  # (H, W, 3)
        h, w = img.shape[:2]
        x1, y1, x2, y2 = boxes.tensor[0].tolist()
        mx, my = self.context * (x2 - x1), self.context * (y2 - y1)
        cx1 = int(np.clip(math.floor(x1 - mx), 0, w - 1))
        cy1 = int(np.clip(math.floor(y1 - my), 0, h - 1))
        cx2 = int(np.clip(math.ceil(x2 + mx), cx1 + 1, w))
        cy2 = int(np.clip(math.ceil(y2 + my), cy1 + 1, h))
        results['img'] = img[cy1:cy2, cx1:cx2]  # (h', w', 3)
        results['img_shape'] = results['img'].shape[:2]
        boxes.translate_([-cx1, -cy1])
        boxes.clip_(results['img_shape'])
        results['support_crop'] = np.array([cx1, cy1, cx2, cy2], dtype=np.int64)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(context={self.context})'
