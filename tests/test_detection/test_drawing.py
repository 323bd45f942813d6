"""Readable pictures: scores drawn as fractions, labels that do not overlap
on a 256-pixel image, the TP/FP legend, the demo's drawing."""
import numpy as np
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from mmfsod.detection.visualization import (add_legend, draw_detections, draw_tp_fp,
                                            format_score, place_labels)
from mmfsod.detection.visualization.drawing import LEGEND_HEIGHT, label_text, text_size
from mmfsod.detection.visualization.tp_fp import FP_COLOR, GT_COLOR, TP_COLOR


def test_scores_are_fractions_as_score_thr_takes_them():
    assert format_score(0.873) == '0.87'
    assert format_score(torch.tensor(0.3)) == '0.30'
    assert format_score(1.0) == '1.00'
    assert label_text('cog', 0.5) == 'cog 0.50' and label_text('cog') == 'cog'


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_do_not_overlap_on_a_256_pixel_image():
    rng = np.random.default_rng(0)
    # 12 boxes crowded in one quarter, several sharing a top-left corner
    xy = rng.integers(0, 100, (12, 2))
    boxes = np.concatenate([xy, xy + rng.integers(20, 60, (12, 2))], 1).tolist()
    boxes[1][:2] = boxes[0][:2]
    boxes[2][:2] = boxes[0][:2]
    sizes = [text_size(label_text('purple_crescent*', 0.87))] * len(boxes)
    rects = place_labels(boxes, sizes, (256, 256))
    assert all(r is not None for r in rects)  # every label found a place
    for i, a in enumerate(rects):
        assert 0 <= a[0] and 0 <= a[1] and a[2] <= 256 and a[3] <= 256
        assert (a[2] - a[0], a[3] - a[1]) == sizes[i]
        for b in rects[i + 1:]:
            assert not _overlap(a, b), (a, b)
    # a lone box keeps its label at its top-left corner, just above it
    (x1, y1, x2, y2), = place_labels([[50, 60, 120, 140]], [(40, 12)], (256, 256))
    assert (x1, y1, x2, y2) == (50, 48, 90, 60)
    # at the top edge: moved into the picture, inside the box
    (rect, ) = place_labels([[50, 0, 120, 140]], [(40, 12)], (256, 256))
    assert rect == (50, 0, 90, 12)
    # no room anywhere: the label is left out, never drawn over another
    full = place_labels([[0, 0, 30, 10]] * 3, [(30, 10)] * 3, (10, 30))
    assert full[0] == (0, 0, 30, 10) and full[1:] == [None, None]


def test_the_old_placement_overlapped():
    """The check above can fail: labels at ``y1 - 3`` of boxes sharing a
    corner (the previous drawing) overlap."""
    boxes = [[10, 40, 60, 80], [12, 41, 70, 90]]
    w, h = text_size('a 0.50')
    old = [(x1 + 2, y1 - 3 - h, x1 + 2 + w, y1 - 3) for x1, y1, _, _ in boxes]
    assert _overlap(*old)
    new = place_labels(boxes, [(w, h)] * 2, (256, 256))
    assert not _overlap(*new)


def _has(img, colour):
    return bool((img.reshape(-1, 3) == np.array(colour, np.uint8)).all(1).any())


def test_tp_fp_picture_has_a_legend_of_its_colours():
    img = np.zeros((256, 256, 3), np.uint8)
    gt = InstanceData(bboxes=HorizontalBoxes(torch.tensor([[10., 10., 40., 40.]])),
                      labels=torch.tensor([0]))
    pred = InstanceData(bboxes=torch.tensor([[10., 10., 40., 40.], [12., 12., 44., 44.]]),
                        labels=torch.tensor([0, 0]), scores=torch.tensor([0.9, 0.8]))
    out, tp, fp = draw_tp_fp(img, pred, gt, ['a'], novel=['a'])
    assert (tp, fp) == (1, 1) and out.shape == (256 + LEGEND_HEIGHT, 256, 3)
    strip = out[256:]
    for colour in (TP_COLOR, FP_COLOR, GT_COLOR):
        assert _has(strip, colour), colour
    # every entry fits a 256-pixel picture: the last one's text (white) is drawn
    assert (strip[:, 200:] > 200).all(2).any()
    # without a legend: the picture's size, nothing under it
    plain, _, _ = draw_tp_fp(img, pred, gt, ['a'], novel=['a'], legend=False)
    assert plain.shape == img.shape
    np.testing.assert_array_equal(plain, out[:256])
    # a legend on a blank picture: only the strip changes
    blank = add_legend(np.zeros((20, 200, 3), np.uint8), [('TP', TP_COLOR, 2)])
    assert not blank[:20].any() and _has(blank[20:], TP_COLOR)


def test_demo_drawing_boxes_in_class_colours_above_the_threshold():
    img = np.zeros((128, 128, 3), np.uint8)
    pred = InstanceData(bboxes=torch.tensor([[10., 30., 60., 80.], [70., 70., 120., 120.]]),
                        labels=torch.tensor([1, 0]), scores=torch.tensor([0.9, 0.2]))
    palette = [(255, 0, 0), (0, 255, 0)]  # RGB per label
    out = draw_detections(img, pred, ['red', 'green'], palette, score_thr=0.3)
    assert not img.any()  # a copy
    assert tuple(out[55, 10]) == (0, 255, 0)  # the left edge, BGR
    assert not out[90:, 100:].any()  # the box under the threshold is not drawn


def test_tp_fp_hook_pictures_with_legend_and_no_overwrite(tmp_path):
    """Two test images with one file name in two sub-folders: two pictures,
    each with the legend strip under it."""
    from types import SimpleNamespace

    import mmcv
    from mmdet.structures import DetDataSample

    from mmfsod.detection.engine.tp_fp_visualization_hook import TPFPVisualizationHook
    samples = []
    for img_id, sub in ((907, 'a'), (12, 'b')):
        path = tmp_path / 'images' / sub / '0001.jpg'
        mmcv.imwrite(np.zeros((40, 50, 3), np.uint8), str(path))
        sample = DetDataSample(metainfo=dict(img_path=str(path), img_id=img_id))
        sample.pred_instances = InstanceData(bboxes=torch.tensor([[5., 5., 20., 20.]]),
                                             labels=torch.tensor([0]),
                                             scores=torch.tensor([0.9]))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[5., 5., 20., 20.]]),
                                           labels=torch.tensor([0]))
        samples.append(sample)
    runner = SimpleNamespace(log_dir=str(tmp_path / 'log'), test_dataloader=SimpleNamespace(
        dataset=SimpleNamespace(metainfo=dict(classes=('cog', )))))
    hook = TPFPVisualizationHook(num_images=2)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, outputs=samples)
    names = sorted(p.name for p in (tmp_path / 'log' / 'tp_fp').iterdir())
    assert names == ['0001.jpg', '12_0001.jpg']
    picture = mmcv.imread(str(tmp_path / 'log' / 'tp_fp' / '0001.jpg'))
    assert picture.shape == (40 + LEGEND_HEIGHT, 50, 3)
