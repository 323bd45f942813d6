"""Tests of the TP/FP matching and drawing (the TPFPVisualizationHook's
functions): COCO-style greedy matching, the pictures' colours and counts, and
the matching's tensors on a (fake) CUDA device."""
import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData
from torch._subclasses.fake_tensor import FakeTensorMode

from mmfsod.detection.visualization import draw_tp_fp, match_detections
from mmfsod.detection.visualization.drawing import LEGEND_HEIGHT
from mmfsod.detection.visualization.tp_fp import FP_COLOR, TP_COLOR, score_ordered_ious

GT = torch.tensor([[10., 10., 40., 40.]])


def match(boxes, labels, scores, gt_boxes=GT, gt_labels=(0, ), iou_thr=0.5):
    return match_detections(torch.tensor(boxes, dtype=torch.float32), torch.tensor(labels),
                            torch.tensor(scores), gt_boxes, torch.tensor(gt_labels),
                            iou_thr).tolist()


def test_two_detections_of_one_gt_the_higher_score_is_tp():
    box = [10., 10., 40., 40.]
    assert match([box, box], [0, 0], [0.9, 0.8]) == [True, False]
    # the order follows the scores, not the input order
    assert match([box, box], [0, 0], [0.8, 0.9]) == [False, True]
    # the lower-scored one is the better box: still the higher score wins
    assert match([[12., 12., 40., 40.], box], [0, 0], [0.9, 0.8]) == [True, False]


def test_wrong_class_and_low_iou_are_fp():
    assert match([[10., 10., 40., 40.]], [1], [0.9]) == [False]
    # IoU 1/3 against the ground truth
    assert match([[10., 10., 20., 40.]], [0], [0.9], iou_thr=0.5) == [False]
    assert match([[10., 10., 20., 40.]], [0], [0.9], iou_thr=0.3) == [True]
    # a wrong-class detection takes no ground truth from a right-class one
    assert match([[10., 10., 40., 40.]] * 2, [1, 0], [0.9, 0.8]) == [False, True]


def test_each_gt_matches_at_most_one_detection():
    gts = torch.tensor([[10., 10., 40., 40.], [50., 50., 90., 90.]])
    dets = [[11., 11., 40., 40.], [10., 10., 41., 41.], [50., 50., 90., 90.],
            [52., 50., 90., 90.]]
    tp = match(dets, [0, 0, 0, 0], [0.6, 0.7, 0.9, 0.8], gts, (0, 0))
    assert tp == [False, True, True, False]
    # no ground truth, no detection
    assert match([], [], [], gts, (0, 0)) == []
    assert match(dets[:1], [0], [0.5], torch.zeros(0, 4), ()) == [False]


def _pred(boxes, labels, scores):
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                        labels=torch.tensor(labels), scores=torch.tensor(scores))


def test_draw_tp_fp_counts_and_colours():
    img = np.zeros((100, 100, 3), np.uint8)
    gt = InstanceData(bboxes=HorizontalBoxes(GT), labels=torch.tensor([0]))
    pred = _pred([[10, 10, 40, 40], [60, 60, 90, 90], [20, 70, 45, 95]],
                 [0, 0, 0], [0.9, 0.8, 0.1])  # TP, FP, under score_thr
    out, tp, fp = draw_tp_fp(img, pred, gt, ['a', 'b'], score_thr=0.3)
    assert (tp, fp) == (1, 1)
    assert out.shape == (100 + LEGEND_HEIGHT, 100, 3) and not img.any()  # on a copy
    assert tuple(out[25, 10]) == TP_COLOR  # left edge of the TP box
    assert tuple(out[75, 60]) == FP_COLOR  # left edge of the FP box
    assert tuple(out[85, 20]) == (0, 0, 0)  # the low-score box is not drawn
    # a wrong-class detection on the ground truth is red
    out, tp, fp = draw_tp_fp(img, _pred([[10, 10, 40, 40]], [1], [0.9]), gt, ['a', 'b'])
    assert (tp, fp) == (0, 1) and tuple(out[25, 10]) == FP_COLOR


def test_draw_tp_fp_reads_tensors_that_need_a_host_copy():
    """Predictions that carry autograd history (and, on a GPU, device
    tensors) are moved to the host before numpy/lists are made."""
    img = np.zeros((50, 50, 3), np.uint8)
    gt = InstanceData(bboxes=torch.tensor([[5., 5., 30., 30.]]), labels=torch.tensor([0]))
    boxes = torch.tensor([[5., 5., 30., 30.]], requires_grad=True)
    pred = InstanceData(bboxes=boxes * 1, labels=torch.tensor([0]),
                        scores=torch.tensor([0.9], requires_grad=True) * 1)
    _, tp, fp = draw_tp_fp(img, pred, gt, ['a'])
    assert (tp, fp) == (1, 0)


@pytest.mark.parametrize('pred_device', ['cuda', 'cpu'])
def test_matching_tensors_on_fake_cuda(pred_device):
    """The device part of the matching with the ground truth on a (fake)
    CUDA device, as at test time on a GPU: every tensor it makes is on the
    predictions' device (a CPU tensor mixed in raises under FakeTensorMode).
    Predictions on the CPU with a CUDA ground truth are moved, not mixed."""
    with FakeTensorMode(allow_non_fake_inputs=False):
        boxes = torch.rand(5, 4, device=pred_device) * 20
        boxes[:, 2:] += boxes[:, :2]
        labels = torch.zeros(5, dtype=torch.long, device=pred_device)
        scores = torch.rand(5, device=pred_device)
        gt_boxes = torch.rand(3, 4, device='cuda') * 20
        gt_labels = torch.zeros(3, dtype=torch.long, device='cuda')
        order, ious = score_ordered_ious(boxes, labels, scores, gt_boxes, gt_labels)
        assert order.device == ious.device == boxes.device
        assert tuple(order.shape) == (5, ) and tuple(ious.shape) == (5, 3)


def test_fake_cuda_check_catches_a_cpu_tensor(monkeypatch):
    """The check of the test above can fail: the old code's CPU ``taken``
    mask combined with CUDA labels raises under FakeTensorMode."""
    with FakeTensorMode(allow_non_fake_inputs=False):
        gt_labels = torch.zeros(3, dtype=torch.long, device='cuda')
        taken = torch.zeros(3, dtype=torch.bool)  # on the CPU, as the bug had it
        with pytest.raises(RuntimeError, match='device'):
            (gt_labels == 0) & ~taken
