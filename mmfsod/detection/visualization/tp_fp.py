"""Detections drawn as true or false positives (GCN-FSOD Fig. 1 style)."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps

from .drawing import add_legend, draw_boxes, label_text

TP_COLOR = (40, 200, 40)  # BGR green
FP_COLOR = (40, 40, 230)  # BGR red
GT_COLOR = (230, 230, 230)  # BGR light grey, 1 pixel


def score_ordered_ious(pred_boxes: torch.Tensor, pred_labels: torch.Tensor,
                       pred_scores: torch.Tensor, gt_boxes: torch.Tensor,
                       gt_labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The tensor part of :func:`match_detections`, on the device of
    ``pred_boxes`` (the other inputs are moved there; nothing is created on
    another device).

    Returns:
        tuple: ``order`` (D, ) the detections by descending score (stable:
        equal scores keep their input order) and ``ious`` (D, G) in that
        order, -1 where the classes differ (never a match).
    """
    device = pred_boxes.device
    order = torch.argsort(pred_scores.to(device), descending=True, stable=True)  # (D, )
    ious = bbox_overlaps(pred_boxes.float(), gt_boxes.to(device).float())  # (D, G)
    same = pred_labels.to(device)[:, None] == gt_labels.to(device)[None]  # (D, G)
    ious = torch.where(same, ious, torch.full_like(ious, -1))
    return order, ious[order]


def match_detections(pred_boxes: torch.Tensor, pred_labels: torch.Tensor,
                     pred_scores: torch.Tensor, gt_boxes: torch.Tensor,
                     gt_labels: torch.Tensor, iou_thr: float = 0.5) -> np.ndarray:
    """True-positive flag of every detection, as COCO/VOC matching does:
    in descending score order, a detection is a TP if it overlaps an
    unmatched ground truth of its class with IoU >= ``iou_thr``; each ground
    truth matches at most one detection.

    The inputs may be on any device (and on different ones): the IoUs are
    computed on the device of ``pred_boxes`` (:func:`score_ordered_ious`) and
    copied to the host once; the greedy matching runs in numpy.

    Returns:
        np.ndarray: (num_dets,) bool, in the input order.
    """
    tp = np.zeros(len(pred_boxes), dtype=bool)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    order, ious = score_ordered_ious(pred_boxes, pred_labels, pred_scores, gt_boxes,
                                     gt_labels)
    order, ious = order.cpu().numpy(), ious.cpu().numpy()  # (D, ), (D, G)
    taken = np.zeros(ious.shape[1], dtype=bool)  # (G, )
    for d, row in zip(order, ious):
        row = np.where(taken, -1.0, row)  # matched ground truths are out
        g = int(row.argmax())
        if row[g] >= iou_thr:
            tp[d] = True
            taken[g] = True
    return tp


def tp_fp_legend(novel: bool = True) -> list:
    """The legend entries of :func:`draw_tp_fp` (text, BGR colour, line):
    TP, FP, ground truth and, with ``novel``, the star of novel classes."""
    entries = [('TP', TP_COLOR, 2), ('FP', FP_COLOR, 2), ('ground truth', GT_COLOR, 1)]
    if novel:
        entries.append(('* novel', None, 1))
    return entries


def draw_tp_fp(img: np.ndarray, pred, gt, classes: Sequence[str], score_thr: float = 0.3,
               iou_thr: float = 0.5, novel: Optional[Sequence[str]] = None,
               legend: bool = True) -> Tuple[np.ndarray, int, int]:
    """Draw ground truth (light grey, 1 pixel) and detections above
    ``score_thr``: true positives green, false positives red (2 pixels),
    each labelled ``<class> <score>`` (score a fraction, ``0.87``; novel
    classes starred), labels placed where they overlap no other label
    (:func:`~mmfsod.detection.visualization.drawing.place_labels`, best
    scores first). With ``legend``, a strip under the picture names the
    colours (:func:`tp_fp_legend`).

    Args:
        img (np.ndarray): (H, W, 3) BGR image, drawn on a copy.
        pred (InstanceData): ``bboxes``, ``labels``, ``scores`` in image pixels.
        gt (InstanceData): ``bboxes``, ``labels``.

    Returns:
        tuple: the picture ((H + 16, W, 3) with the legend), the number of
        TPs and of FPs drawn.
    """
    out = img.copy()
    # a few boxes to draw: match and draw on the host, whatever the model's device
    scores = pred.scores.detach().cpu()
    keep = scores >= score_thr
    boxes, labels, scores = (pred.bboxes.detach().cpu()[keep],
                             pred.labels.detach().cpu()[keep], scores[keep])
    gt_boxes = gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes
    gt_boxes, gt_labels = gt_boxes.detach().cpu(), gt.labels.detach().cpu()
    tp = match_detections(boxes, labels, scores, gt_boxes, gt_labels, iou_thr)
    for box in gt_boxes.round().int().tolist():
        cv2.rectangle(out, tuple(box[:2]), tuple(box[2:]), GT_COLOR, 1)
    novel = set(novel or ())
    order = torch.argsort(scores, descending=True, stable=True).tolist()
    texts = [label_text(classes[labels[i]] + ('*' if classes[labels[i]] in novel else ''),
                        scores[i]) for i in order]
    draw_boxes(out, [boxes[i].tolist() for i in order], texts,
               [TP_COLOR if tp[i] else FP_COLOR for i in order])
    if legend:
        out = add_legend(out, tp_fp_legend(bool(novel)))
    return out, int(tp.sum()), int((~tp).sum())
