"""Detections drawn as true or false positives (GCN-FSOD Fig. 1 style)."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps

TP_COLOR = (40, 200, 40)  # BGR green
FP_COLOR = (40, 40, 230)  # BGR red
GT_COLOR = (230, 230, 230)  # BGR light grey, thin


def match_detections(pred_boxes: torch.Tensor, pred_labels: torch.Tensor,
                     pred_scores: torch.Tensor, gt_boxes: torch.Tensor,
                     gt_labels: torch.Tensor, iou_thr: float = 0.5) -> np.ndarray:
    """True-positive flag of every detection, as COCO/VOC matching does:
    in descending score order, a detection is a TP if it overlaps an
    unmatched ground truth of its class with IoU >= ``iou_thr``; each ground
    truth matches at most one detection.

    Returns:
        np.ndarray: (num_dets,) bool.
    """
    tp = np.zeros(len(pred_boxes), dtype=bool)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    ious = bbox_overlaps(pred_boxes.float(), gt_boxes.float())  # (D, G)
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool)
    for d in torch.argsort(pred_scores, descending=True).tolist():
        cand = (gt_labels == pred_labels[d]) & ~taken
        if not cand.any():
            continue
        iou = torch.where(cand, ious[d], torch.full_like(ious[d], -1))
        g = int(iou.argmax())
        if iou[g] >= iou_thr:
            tp[d] = True
            taken[g] = True
    return tp


def draw_tp_fp(img: np.ndarray, pred, gt, classes: Sequence[str], score_thr: float = 0.3,
               iou_thr: float = 0.5, novel: Optional[Sequence[str]] = None
               ) -> Tuple[np.ndarray, int, int]:
    """Draw ground truth (thin grey) and detections above ``score_thr``:
    true positives green, false positives red, each with its class and score
    (novel classes starred).

    Args:
        img (np.ndarray): (H, W, 3) BGR image, drawn on a copy.
        pred (InstanceData): ``bboxes``, ``labels``, ``scores`` in image pixels.
        gt (InstanceData): ``bboxes``, ``labels``.

    Returns:
        tuple: the picture, the number of TPs and of FPs drawn.
    """
    out = img.copy()
    keep = pred.scores >= score_thr
    boxes, labels, scores = pred.bboxes[keep], pred.labels[keep], pred.scores[keep]
    gt_boxes = gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes
    tp = match_detections(boxes, labels, scores, gt_boxes, gt.labels, iou_thr)
    for box in gt_boxes.round().int().tolist():
        cv2.rectangle(out, tuple(box[:2]), tuple(box[2:]), GT_COLOR, 1)
    novel = set(novel or ())
    for box, label, score, ok in zip(boxes.round().int().tolist(), labels.tolist(),
                                     scores.tolist(), tp):
        color = TP_COLOR if ok else FP_COLOR
        cv2.rectangle(out, tuple(box[:2]), tuple(box[2:]), color, 2)
        name = classes[label] + ('*' if classes[label] in novel else '')
        org = (box[0] + 2, max(box[1] - 3, 10))
        cv2.putText(out, f'{name} {score:.2f}', org, cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, f'{name} {score:.2f}', org, cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    color, 1, cv2.LINE_AA)
    return out, int(tp.sum()), int((~tp).sum())
