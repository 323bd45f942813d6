"""Support instances of query-support items: the input of a support
pipeline and the stacking of its outputs."""
import copy
from typing import List, Sequence, Tuple

import torch
from mmengine.structures import InstanceData

# (index of the image in the source dataset, index of the instance in it)
InstanceRef = Tuple[int, int]


def support_instance_info(data_info: dict, inst_idx: int) -> dict:
    """The input of a support pipeline: the source image and only the one
    instance ``inst_idx`` of it (as ``instances``, read by LoadAnnotations)."""
    inst = data_info['instances'][inst_idx]
    return dict(img_path=data_info['img_path'], img_id=data_info['img_id'],
                height=data_info['height'], width=data_info['width'],
                instances=[copy.deepcopy(inst)], ann_id=inst.get('ann_id', -1),
                support_class=inst['bbox_label'])


def pack_supports(packed: List[dict], refs: Sequence[dict],
                  where: str) -> Tuple[torch.Tensor, InstanceData]:
    """Stack the outputs of a support pipeline.

    Args:
        packed (list[dict]): the support pipeline's outputs.
        refs (list[dict]): per support, ``label``, ``img_id``, ``ann_id`` and
            ``is_positive``.
        where (str): what to name in errors.

    Returns:
        tuple: ``inputs`` (S, 3, h, w) uint8 and an ``InstanceData`` of
        length S with ``labels`` (S,) (the class of each support),
        ``bboxes`` (S, 4) (the instance box in support-input pixels),
        ``img_ids`` (S,), ``ann_ids`` (S,) and ``is_positive`` (S,) bool.
    """
    shapes = {tuple(p['inputs'].shape) for p in packed}
    if len(shapes) != 1:
        raise ValueError(f'{where}: the support pipeline must give every support one '
                         f'size (end it with Pad(size=...)), got shapes {sorted(shapes)}')
    inputs = torch.stack([p['inputs'] for p in packed])  # (S, 3, h, w)
    boxes = []
    for p in packed:
        gt = p['data_samples'].get('gt_instances')
        if gt is None or len(gt) != 1:
            raise ValueError(f'{where}: the support pipeline must keep the one support '
                             'box (LoadAnnotations with_bbox=True before the crop)')
        boxes.append(gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes)
    info = InstanceData()
    info.labels = torch.tensor([r['label'] for r in refs], dtype=torch.long)  # (S,)
    info.bboxes = torch.cat(boxes).float()  # (S, 4)
    info.img_ids = torch.tensor([r['img_id'] for r in refs], dtype=torch.long)
    info.ann_ids = torch.tensor([r['ann_id'] for r in refs], dtype=torch.long)
    info.is_positive = torch.tensor([r['is_positive'] for r in refs], dtype=torch.bool)
    return inputs, info


def box_area(bbox: Sequence[float]) -> float:
    """Area of an ``x1, y1, x2, y2`` box."""
    return max(0.0, bbox[2] - bbox[0]) * max(0.0, bbox[3] - bbox[1])
