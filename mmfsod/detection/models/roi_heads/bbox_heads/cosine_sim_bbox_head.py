"""TFA's cosine-similarity box classifier (Wang et al. 2020, "Frustratingly
Simple Few-Shot Object Detection", eq. 1, "TFA w/ cos").

The class score of RoI feature ``x`` for class ``c`` is

    s_c = alpha * <x, w_c> / (||x|| ||w_c||)

with a fixed scale ``alpha`` (TFA: 20 on COCO). The weights have no bias;
the background is one more row of ``w``, kept last as mmdet orders it. The
box regressor stays a plain linear layer.
"""
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS


@MODELS.register_module()
class CosineSimLinear(nn.Linear):
    """A linear layer over L2-normalised inputs and rows: ``scale * cos``.

    Args:
        in_features (int): feature size of ``x``.
        out_features (int): classes (with the background row).
        scale (float): ``alpha`` of the cosine scores.
        eps (float): added to the norms (TFA: 1e-5).
    """

    def __init__(self, in_features: int, out_features: int, scale: float = 20.0,
                 eps: float = 1e-5) -> None:
        if scale <= 0:
            raise ValueError(f'CosineSimLinear: scale must be > 0, got {scale}')
        super().__init__(in_features, out_features, bias=False)
        self.scale = float(scale)
        self.eps = float(eps)

    def forward(self, x: Tensor) -> Tensor:
        # x: (N, C), weight: (num_classes + 1, C) -> (N, num_classes + 1)
        x = x / (x.norm(p=2, dim=1, keepdim=True) + self.eps)
        w = self.weight / (self.weight.norm(p=2, dim=1, keepdim=True) + self.eps)
        return self.scale * F.linear(x, w)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, scale={self.scale}'


@MODELS.register_module()
class CosineSimBBoxHead(Shared2FCBBoxHead):
    """mmdet's ``Shared2FCBBoxHead`` with the cosine classifier of TFA w/cos.

    Args:
        scale (float): ``alpha`` of the cosine scores (TFA: 20).
        *args, **kwargs: those of ``Shared2FCBBoxHead``; ``cls_predictor_cfg``
            is set here.
    """

    def __init__(self, *args, scale: float = 20.0, **kwargs) -> None:
        if 'cls_predictor_cfg' in kwargs:
            raise ValueError('CosineSimBBoxHead sets cls_predictor_cfg itself '
                             '(CosineSimLinear); give `scale` instead')
        super().__init__(
            *args, cls_predictor_cfg=dict(type='CosineSimLinear', scale=scale), **kwargs)
