"""Tests of the class-group VOC metric (novel / base / all AP50)."""
import numpy as np
import pytest
import torch
from mmdet.evaluation import VOCMetric

import mmfsod.detection  # noqa: F401  (registers FewShotVOCMetric)
from mmfsod.detection.evaluation import FewShotVOCMetric

CLASSES = ('bird', 'car', 'cow', 'dog', 'sofa')
NOVEL = ('sofa', 'bird', 'cow')  # not in label order
BASE = ('car', 'dog')
GROUPS = dict(novel=NOVEL, base=BASE)


def sample(gt_boxes, gt_labels, dets, ignored=((), ())):
    """One data sample as the evaluator hands it to a metric: xyxy gt boxes,
    ignored (difficult) boxes and ``(box, score, label)`` detections."""
    def boxes(b):
        return torch.tensor(b, dtype=torch.float32).reshape(-1, 4)
    return dict(
        gt_instances=dict(bboxes=boxes(gt_boxes), labels=torch.tensor(gt_labels).long()),
        ignored_instances=dict(bboxes=boxes(ignored[0]),
                               labels=torch.tensor(ignored[1]).long()),
        pred_instances=dict(bboxes=boxes([d[0] for d in dets]),
                            scores=torch.tensor([d[1] for d in dets], dtype=torch.float32),
                            labels=torch.tensor([d[2] for d in dets]).long()))


def random_samples(seed=0, num_imgs=6):
    """Images with random gts (some difficult) and noisy detections: hits,
    shifted boxes, misses and false positives of every class."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(num_imgs):
        n = int(rng.integers(1, 6))
        xy = rng.uniform(0, 200, (n, 2))
        wh = rng.uniform(10, 80, (n, 2))
        gts = np.hstack([xy, xy + wh]).round(1)
        labels = rng.integers(0, len(CLASSES), n)
        difficult = rng.random(n) < 0.2
        dets = []
        for box, label in zip(gts, labels):
            if rng.random() < 0.8:  # found, maybe shifted off the IoU threshold
                shift = rng.normal(0, 8, 4)
                dets.append(((box + shift).tolist(), float(rng.random()), int(label)))
        for _ in range(int(rng.integers(0, 4))):  # false positives
            xy = rng.uniform(0, 200, 2)
            dets.append(([*xy, *(xy + rng.uniform(10, 60, 2))], float(rng.random()),
                         int(rng.integers(0, len(CLASSES)))))
        samples.append(sample(gts[~difficult].tolist(), labels[~difficult].tolist(), dets,
                              (gts[difficult].tolist(), labels[difficult].tolist())))
    return samples


def only_classes(samples, keep):
    """The samples with the gts and detections of the classes ``keep`` only,
    relabelled by their index in ``keep``."""
    new_label = {CLASSES.index(c): k for k, c in enumerate(keep)}
    out = []
    for s in samples:
        new = {}
        for key, inst in s.items():
            mask = torch.tensor([int(x) in new_label for x in inst['labels']], dtype=torch.bool)
            new[key] = {k: v[mask] for k, v in inst.items()}
            new[key]['labels'] = torch.tensor(
                [new_label[int(x)] for x in inst['labels'][mask]]).long()
        out.append(new)
    return out


def evaluate(metric, samples, classes=CLASSES):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('eval_mode', ['11points', 'area'])
def test_groups_equal_mmdet_voc_metric(eval_mode):
    samples = random_samples()
    ours = evaluate(FewShotVOCMetric(class_groups=GROUPS, eval_mode=eval_mode, nproc=1),
                    samples)
    assert list(ours) == [f'pascal_voc/{g}/bbox_mAP_50' for g in ('novel', 'base', 'all')]
    mmdet_all = evaluate(VOCMetric(eval_mode=eval_mode), samples)
    assert ours['pascal_voc/all/bbox_mAP_50'] == mmdet_all['pascal_voc/mAP']
    for group, names in GROUPS.items():
        mmdet_group = evaluate(VOCMetric(eval_mode=eval_mode),
                               only_classes(samples, names), classes=names)
        assert ours[f'pascal_voc/{group}/bbox_mAP_50'] == pytest.approx(
            mmdet_group['pascal_voc/mAP'], abs=1e-6)
    assert 0 < ours['pascal_voc/novel/bbox_mAP_50'] < 1


def test_difficult_box_is_neither_tp_nor_fp():
    # one cow, one difficult cow; the top detection is on the difficult one
    cow, hard = [10, 10, 60, 60], [100, 100, 160, 160]
    dets = [(hard, 0.9, 2), (cow, 0.8, 2)]
    ignored = evaluate(FewShotVOCMetric(class_groups=GROUPS, nproc=1),
                       [sample([cow], [2], dets, ([hard], [2]))])
    # ignored: the cow is found at precision 1
    assert ignored['pascal_voc/novel/bbox_mAP_50'] == pytest.approx(1.0)
    # the same box as a normal gt: two cows, both found
    normal = evaluate(FewShotVOCMetric(class_groups=GROUPS, nproc=1),
                      [sample([cow, hard], [2, 2], dets)])
    assert normal['pascal_voc/novel/bbox_mAP_50'] == pytest.approx(1.0)
    # the difficult box missing from the gt: its detection is a false positive
    # that outranks the true one (precision 1/2 at every recall)
    dropped = evaluate(FewShotVOCMetric(class_groups=GROUPS, nproc=1),
                       [sample([cow], [2], dets)])
    assert dropped['pascal_voc/novel/bbox_mAP_50'] == pytest.approx(0.5)
    # an undetected difficult box does not lower the recall either
    missed = evaluate(FewShotVOCMetric(class_groups=GROUPS, nproc=1),
                      [sample([cow], [2], dets[1:], ([hard], [2]))])
    assert missed['pascal_voc/novel/bbox_mAP_50'] == pytest.approx(1.0)


def test_11points_and_area_by_hand():
    # two dogs; detections by score: hit, false positive, hit
    # recall 1/2, 1/2, 1; precision 1, 1/2, 2/3
    a, b, fp = [0, 0, 50, 50], [100, 0, 150, 50], [0, 100, 50, 150]
    samples = [sample([a, b], [3, 3], [(a, 0.9, 3), (fp, 0.8, 3), (b, 0.7, 3)])]
    groups = dict(base=('dog', ))
    area = evaluate(FewShotVOCMetric(class_groups=groups, eval_mode='area', nproc=1), samples)
    points = evaluate(FewShotVOCMetric(class_groups=groups, nproc=1), samples)
    # area: 1/2 x 1 + 1/2 x 2/3; 11 points: recall 0-0.5 at precision 1 (6
    # points), 0.6-1.0 at 2/3 (5 points)
    assert area['pascal_voc/base/bbox_mAP_50'] == pytest.approx(5 / 6, abs=1e-6)
    assert points['pascal_voc/base/bbox_mAP_50'] == pytest.approx((6 + 5 * 2 / 3) / 11,
                                                                  abs=1e-6)
    # classes without gt are left out of the means; a group without gt is -1
    assert points['pascal_voc/all/bbox_mAP_50'] == points['pascal_voc/base/bbox_mAP_50']
    none = evaluate(FewShotVOCMetric(class_groups=dict(novel=('cow', )), nproc=1), samples)
    assert none['pascal_voc/novel/bbox_mAP_50'] == -1


def test_iou_thresholds_and_split_names():
    split = dict(BASE_CLASSES=BASE, NOVEL_CLASSES=NOVEL)
    metric = FewShotVOCMetric(class_groups=dict(novel='NOVEL_CLASSES', base='BASE_CLASSES'),
                              class_splits=split, iou_thrs=[0.5, 0.75], nproc=1)
    assert metric.class_groups == GROUPS
    res = evaluate(metric, random_samples(1))
    assert set(res) == {f'pascal_voc/{g}/bbox_mAP_{t}' for g in ('novel', 'base', 'all')
                        for t in (50, 75)}
    assert all(res[k.replace('75', '50')] >= res[k] for k in res if k.endswith('75'))
    # the split from the dataset's metainfo (one evaluator for the VOC splits)
    metric = FewShotVOCMetric(class_groups=dict(novel='NOVEL_CLASSES', base='BASE_CLASSES'),
                              nproc=1)
    assert metric.class_groups is None
    metric.dataset_meta = dict(classes=CLASSES, class_splits=split)
    assert metric.class_groups == GROUPS
    with pytest.raises(ValueError, match='neither class_splits nor the dataset'):
        FewShotVOCMetric(class_groups=dict(novel='NOVEL_CLASSES')).dataset_meta = dict(
            classes=CLASSES)


def test_bad_input_names_the_key():
    with pytest.raises(ValueError, match="eval_mode must be one of"):
        FewShotVOCMetric(class_groups=GROUPS, eval_mode='12points')
    with pytest.raises(ValueError, match="class group 'novel' is empty"):
        FewShotVOCMetric(class_groups=dict(novel=()))
    with pytest.raises(ValueError, match=r"class group 'base': \['horse'\] not among"):
        FewShotVOCMetric(class_groups=dict(base=('horse', ))).dataset_meta = dict(
            classes=CLASSES)
    with pytest.raises(ValueError, match='iou_thrs must be thresholds'):
        FewShotVOCMetric(class_groups=GROUPS, iou_thrs=50)
