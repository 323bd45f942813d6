"""Box labels and legends that stay readable on small pictures: scores as
fractions (as ``--score-thr`` takes them), labels placed where they overlap
no other label, and a legend strip under the picture."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.35
LEGEND_HEIGHT = 16  # pixels of the legend strip under a picture
LEGEND_BG = (32, 32, 32)  # BGR dark grey strip, white text

Rect = Tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive)


def format_score(score: float) -> str:
    """A score as drawn: a fraction with two decimals, as ``--score-thr``
    and ``score_thr`` take it (``0.87``, not ``87.0``)."""
    return f'{float(score):.2f}'


def label_text(name: str, score: Optional[float] = None) -> str:
    """``'<name> <score>'`` (just the name without a score)."""
    return name if score is None else f'{name} {format_score(score)}'


def text_size(text: str, scale: float = FONT_SCALE) -> Tuple[int, int]:
    """(width, height) in pixels of a label's background box."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    return w + 4, h + base + 3


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(boxes: Sequence[Sequence[float]], sizes: Sequence[Tuple[int, int]],
                 img_shape: Tuple[int, int]) -> List[Optional[Rect]]:
    """Where to put the label of each box so that no two labels overlap.

    Boxes are taken in the given order (give them by descending score: the
    best keep the best places). A label of ``size`` (w, h) goes to the first
    free place among: just above the box's top-left corner, inside it at the
    top-left, just below its bottom-left corner, inside at the bottom-left,
    the same four at the right edge; then stacked above / below those places
    one label height at a time. Places are moved into the image. A label
    with no free place anywhere near its box is left out (``None``): its box
    is still drawn.

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2`` in pixels.
        sizes: (N, 2) label (width, height), see :func:`text_size`.
        img_shape: (height, width) of the picture.

    Returns:
        list: per box, the label rectangle ``(x1, y1, x2, y2)`` or ``None``.
    """
    height, width = img_shape[:2]
    placed: List[Rect] = []
    out: List[Optional[Rect]] = []
    for box, (w, h) in zip(boxes, sizes):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        if w > width or h > height:
            out.append(None)
            continue
        corners = [(x1, y1 - h), (x1, y1), (x1, y2), (x1, y2 - h),
                   (x2 - w, y1 - h), (x2 - w, y1), (x2 - w, y2), (x2 - w, y2 - h)]
        steps = max(height // h, 1)
        candidates = corners + [(x, y + sign * k * h) for k in range(1, steps)
                                for sign in (-1, 1) for x, y in corners[:2]]
        rect = None
        for x, y in candidates:
            x = min(max(x, 0), width - w)
            y = min(max(y, 0), height - h)
            cand = (x, y, x + w, y + h)
            if not any(_overlaps(cand, p) for p in placed):
                rect = cand
                break
        if rect is not None:
            placed.append(rect)
        out.append(rect)
    return out


def _text_colour(bg: Sequence[int]) -> Tuple[int, int, int]:
    """Black on light backgrounds, white on dark ones."""
    b, g, r = (int(c) for c in bg)
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


def draw_label(img: np.ndarray, text: str, rect: Rect, colour: Sequence[int]) -> None:
    """A label in place: ``text`` on a filled rectangle of ``colour`` (BGR)."""
    x1, y1, x2, y2 = rect
    colour = tuple(int(c) for c in colour)
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), colour, -1)
    (_, th), _ = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
    cv2.putText(img, text, (x1 + 2, y1 + 2 + th), FONT, FONT_SCALE, _text_colour(colour), 1,
                cv2.LINE_AA)


def draw_boxes(img: np.ndarray, boxes: Sequence[Sequence[float]], texts: Sequence[str],
               colours: Sequence[Sequence[int]], thickness: int = 2) -> int:
    """Draw boxes (BGR ``colours``) and their labels in place, labels placed
    by :func:`place_labels` in the given order. Returns how many labels were
    drawn (a box without a free place keeps no label)."""
    boxes = [[int(round(v)) for v in b] for b in boxes]
    for box, colour in zip(boxes, colours):
        cv2.rectangle(img, tuple(box[:2]), tuple(box[2:]), tuple(int(c) for c in colour),
                      thickness)
    rects = place_labels(boxes, [text_size(t) for t in texts], img.shape[:2])
    for rect, text, colour in zip(rects, texts, colours):
        if rect is not None:
            draw_label(img, text, rect, colour)
    return sum(r is not None for r in rects)


def add_legend(img: np.ndarray,
               entries: Sequence[Tuple[str, Optional[Sequence[int]], int]]
               ) -> np.ndarray:
    """The picture with a legend strip of :data:`LEGEND_HEIGHT` pixels under
    it: per entry ``(text, BGR colour, line thickness)`` a short box outline
    in that colour (none for colour ``None``) and the text. Entries that do
    not fit the width are left out. Returns a new (H + LEGEND_HEIGHT, W, 3)
    array."""
    h, w = img.shape[:2]
    strip = np.full((LEGEND_HEIGHT, w, 3), LEGEND_BG, np.uint8)
    x = 3
    for text, colour, thickness in entries:
        tw, _ = text_size(text)
        if x + 14 + tw > w:
            break
        if colour is not None:
            cv2.rectangle(strip, (x, 3), (x + 10, LEGEND_HEIGHT - 4),
                          tuple(int(c) for c in colour), thickness)
        (_, th), _ = cv2.getTextSize(text, FONT, FONT_SCALE, 1)
        cv2.putText(strip, text, (x + 13, (LEGEND_HEIGHT + th) // 2), FONT, FONT_SCALE,
                    (255, 255, 255), 1, cv2.LINE_AA)
        x += 14 + tw + 6
    return np.concatenate([img, strip], axis=0)


def draw_detections(img: np.ndarray, pred, classes: Sequence[str],
                    palette: Sequence[Sequence[int]], score_thr: float = 0.3
                    ) -> np.ndarray:
    """The detections of one image above ``score_thr`` on a copy of ``img``
    (H, W, 3) BGR: each box in its class's colour (``palette`` RGB per
    label), labelled ``<class> <score>`` with the score a fraction
    (:func:`format_score`), best scores first and labels not overlapping
    (:func:`place_labels`)."""
    out = np.ascontiguousarray(img).copy()
    scores = pred.scores.detach().cpu()
    keep = (scores >= score_thr).nonzero().flatten()
    keep = keep[scores[keep].argsort(descending=True, stable=True)].tolist()
    boxes = pred.bboxes.detach().cpu()
    labels = pred.labels.detach().cpu().tolist()
    draw_boxes(out, [boxes[i].tolist() for i in keep],
               [label_text(classes[labels[i]], scores[i]) for i in keep],
               [tuple(palette[labels[i]])[::-1] for i in keep])
    return out
