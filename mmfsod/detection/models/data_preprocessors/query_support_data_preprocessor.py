"""Data preprocessor of query-support batches."""
from typing import List, Optional, Union

import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class QuerySupportDataPreprocessor(DetDataPreprocessor):
    """:class:`DetDataPreprocessor` for queries, plus the support images.

    Queries (``inputs``) are handled exactly as by ``DetDataPreprocessor``.
    ``support_inputs`` (one (S, 3, h, w) uint8 tensor per query, as
    :class:`~mmfsod.detection.datasets.QuerySupportDataset` packs them) get
    the same channel conversion and normalisation and come out as one
    (B, S, 3, h, w) float tensor; they are already padded to one size.
    """

    def normalize_supports(self, supports: Tensor) -> Tensor:
        """(..., 3, h, w) uint8 -> normalised float on the model's device."""
        x = supports.to(self.device).float()
        if self._channel_conversion and x.shape[-3] == 3:
            x = x.flip(-3)  # BGR <-> RGB
        if self._enable_normalize:
            x = (x - self.mean) / self.std
        return x

    def forward(self, data: dict, training: bool = False) -> dict:
        supports: Optional[Union[Tensor, List[Tensor]]] = data.pop('support_inputs', None)
        out = super().forward(data, training)
        if supports is not None:
            if isinstance(supports, (list, tuple)):
                num_queries = len(out['inputs'])
                if len(supports) != num_queries:
                    raise ValueError(f'{type(self).__name__}: {len(supports)} support sets '
                                     f'for {num_queries} queries')
                shapes = {tuple(s.shape) for s in supports}
                if len(shapes) != 1:
                    raise ValueError(f'{type(self).__name__}: support sets differ in '
                                     f'shape: {sorted(shapes)}')
                supports = torch.stack(list(supports))  # (B, S, 3, h, w)
            out['support_inputs'] = self.normalize_supports(supports)
        return out
