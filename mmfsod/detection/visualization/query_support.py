"""Drawing of a query-support item: the query with its boxes, its supports."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

_POSITIVE = (40, 200, 40)  # BGR border of positive supports
_NEGATIVE = (40, 40, 220)  # BGR border of negative supports


def _text(img: np.ndarray, text: str, org: Tuple[int, int],
          color=(255, 255, 255), scale: float = 0.4) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3,
                cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1,
                cv2.LINE_AA)


def draw_query_support(item: dict, classes: Sequence[str],
                       palette: Optional[Sequence[Tuple[int, int, int]]] = None,
                       border: int = 3) -> np.ndarray:
    """One picture of a :class:`QuerySupportDataset` item.

    Left: the query (as the detector receives it) with its ground-truth boxes
    of the positive class. Right: one row per support class (positive first)
    of its K supports, framed green (positive) or red (negative) and titled
    with the class name.

    Args:
        item (dict): ``dict(inputs=(3, H, W), data_samples, support_inputs=
            (S, 3, h, w))`` as the dataset returns it (BGR, uint8).
        classes (Sequence[str]): class names by label.
        palette (Sequence[tuple], optional): RGB colour per label for boxes.

    Returns:
        np.ndarray: (H', W', 3) BGR uint8 picture.
    """
    query = np.ascontiguousarray(item['inputs'].permute(1, 2, 0).numpy())  # (H, W, 3)
    sample = item['data_samples']
    pos = sample.query_class
    color = tuple(int(c) for c in (palette[pos][::-1] if palette else (0, 255, 255)))
    for box in sample.gt_instances.bboxes.tensor.round().int().tolist():
        cv2.rectangle(query, tuple(box[:2]), tuple(box[2:]), color, 2)
    _text(query, f'query: {classes[pos]}', (4, 14))

    supports = item['support_inputs'].permute(0, 2, 3, 1).numpy()  # (S, h, w, 3)
    info = sample.support_instances
    labels = info.labels.tolist()
    rows = []
    for label in dict.fromkeys(labels):  # support classes in order, positive first
        tiles = []
        for s in [i for i, lab in enumerate(labels) if lab == label]:
            frame = _POSITIVE if bool(info.is_positive[s]) else _NEGATIVE
            tile = cv2.copyMakeBorder(np.ascontiguousarray(supports[s]), border, border,
                                      border, border, cv2.BORDER_CONSTANT, value=frame)
            x1, y1, x2, y2 = info.bboxes[s].round().int().tolist()
            cv2.rectangle(tile, (x1 + border, y1 + border), (x2 + border - 1, y2 + border - 1),
                          (255, 255, 255), 1)
            tiles.append(tile)
        row = np.concatenate(tiles, axis=1)
        title = np.zeros((18, row.shape[1], 3), np.uint8)
        _text(title, f'{"+" if label == pos else "-"} {classes[label]}', (2, 13))
        rows.append(np.concatenate([title, row], axis=0))
    width = max(r.shape[1] for r in rows)
    right = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)))
                            for r in rows], axis=0)
    height = max(query.shape[0], right.shape[0])
    pad = lambda a: np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0)))  # noqa: E731
    gap = np.full((height, 8, 3), 255, np.uint8)
    return np.concatenate([pad(query), gap, pad(right)], axis=1)
