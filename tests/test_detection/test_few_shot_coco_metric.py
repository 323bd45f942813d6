"""Tests of the class-group COCO metric (novel / base / all box AP and AR)."""
import json

import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import mmfsod.detection  # noqa: F401  (registers FewShotCocoMetric)
from mmfsod.detection.evaluation import FewShotCocoMetric
from mmfsod.detection.evaluation.few_shot_coco_metric import STAT_NAMES

# Category ids out of order and not contiguous.
CATEGORIES = [dict(id=7, name='cat'), dict(id=2, name='bus'), dict(id=9, name='dog'),
              dict(id=4, name='car')]
CLASSES = tuple(c['name'] for c in CATEGORIES)  # the file's order
# the dataset's classes (label order) in another order than the file's and
# than the ids': label k must be mapped to the category of classes[k]
OTHER_ORDER = ('car', 'dog', 'bus', 'cat')
ORDERS = pytest.mark.parametrize('classes', [CLASSES, OTHER_ORDER],
                                 ids=['file-order', 'other-order'])
GROUPS = dict(novel=('cat', 'dog'), base=('bus', 'car'))
# image id -> (height, width)
IMAGES = {1: (150, 200), 2: (200, 300), 3: (100, 100)}
# (image id, class, xywh box): small (< 32^2), medium and large boxes.
GT = [(1, 'cat', [10, 10, 20, 20]), (1, 'bus', [50, 50, 40, 40]),
      (1, 'dog', [100, 20, 60, 60]), (2, 'cat', [30, 30, 50, 50]),
      (2, 'car', [150, 90, 100, 100]), (2, 'bus', [5, 5, 10, 10]),
      (3, 'dog', [10, 10, 15, 15]), (3, 'car', [40, 40, 50, 50])]
# (image id, class, xywh box, score): every novel box found exactly; for base a
# false positive outranks a shifted true positive, a wrong box, two misses.
DETS = [(1, 'cat', [10, 10, 20, 20], 0.9), (1, 'dog', [100, 20, 60, 60], 0.8),
        (2, 'cat', [30, 30, 50, 50], 0.95), (3, 'dog', [10, 10, 15, 15], 0.7),
        (1, 'bus', [0, 100, 30, 30], 0.9), (1, 'bus', [52, 52, 40, 40], 0.6),
        (2, 'car', [0, 0, 60, 60], 0.8), (3, 'car', [40, 40, 50, 50], 0.5)]
CAT_ID = {c['name']: c['id'] for c in CATEGORIES}


@pytest.fixture
def ann_file(tmp_path):
    """Path of the hand-made COCO gt json."""
    images = [dict(id=i, height=h, width=w, file_name=f'{i}.jpg')
              for i, (h, w) in IMAGES.items()]
    anns = [dict(id=k + 1, image_id=img, category_id=CAT_ID[name], bbox=box,
                 area=box[2] * box[3], iscrowd=0)
            for k, (img, name, box) in enumerate(GT)]
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns,
                                    categories=CATEGORIES)))
    return str(path)


def data_samples(classes=CLASSES) -> list:
    """One mmdet-style sample per image with xyxy predictions, labelled by
    the index of their class in ``classes``."""
    samples = []
    for img, (h, w) in IMAGES.items():
        dets = [d for d in DETS if d[0] == img]
        samples.append(dict(
            img_id=img, ori_shape=(h, w),
            pred_instances=dict(
                bboxes=torch.tensor([[x, y, x + bw, y + bh]
                                     for _, _, (x, y, bw, bh), _ in dets],
                                    dtype=torch.float32).reshape(-1, 4),
                scores=torch.tensor([s for *_, s in dets]),
                labels=torch.tensor([classes.index(n) for _, n, _, _ in dets]))))
    return samples


def run_metric(metric: FewShotCocoMetric, classes=CLASSES) -> dict:
    metric.dataset_meta = dict(classes=classes)
    samples = data_samples(classes)
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def cocoeval_stats(ann_file: str, cat_ids=None) -> list:
    """pycocotools' own COCOeval stats (standard maxDets (1, 10, 100))."""
    gt = COCO(ann_file)
    dt = gt.loadRes([dict(image_id=img, category_id=CAT_ID[name], bbox=box,
                          score=score) for img, name, box, score in DETS])
    coco_eval = COCOeval(gt, dt, 'bbox')
    assert list(coco_eval.params.maxDets) == [1, 10, 100]
    if cat_ids is not None:
        coco_eval.params.catIds = cat_ids
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return list(coco_eval.stats)


@ORDERS
def test_groups_match_pycocotools(ann_file, classes):
    results = run_metric(FewShotCocoMetric(ann_file=ann_file, class_groups=GROUPS), classes)
    assert set(results) == {f'coco/{g}/bbox_{n}' for g in ('novel', 'base', 'all')
                            for n in STAT_NAMES}
    # (a) novel boxes are found exactly, base ones are not
    assert results['coco/novel/bbox_mAP'] == 1.0
    assert results['coco/novel/bbox_mAP_50'] == 1.0
    assert results['coco/base/bbox_mAP'] < 0.6
    # (b) each group is COCOeval restricted to its categories
    for group, names in GROUPS.items():
        expected = cocoeval_stats(ann_file, [CAT_ID[n] for n in names])
        got = [results[f'coco/{group}/bbox_{n}'] for n in STAT_NAMES]
        assert got == pytest.approx(expected, abs=1e-9), group
    # (c) `all` is COCOeval over every category
    got = [results[f'coco/all/bbox_{n}'] for n in STAT_NAMES]
    assert got == pytest.approx(cocoeval_stats(ann_file), abs=1e-9)


@ORDERS
def test_metric_items_and_overlap(ann_file, classes):
    metric = FewShotCocoMetric(ann_file=ann_file, prefix='fs',
                               class_groups=dict(novel=('cat', 'dog'),
                                                 dogs=('dog', )),
                               metric_items=('mAP', 'AR@100'))
    results = run_metric(metric, classes)
    assert set(results) == {f'fs/{g}/bbox_{n}' for g in ('novel', 'dogs', 'all')
                            for n in ('mAP', 'AR@100')}
    assert results['fs/dogs/bbox_mAP'] == 1.0


def test_unknown_class_name(ann_file):
    metric = FewShotCocoMetric(ann_file=ann_file,
                               class_groups=dict(novel=('cat', 'horse')))
    with pytest.raises(ValueError, match='horse'):
        metric.dataset_meta = dict(classes=CLASSES)


@pytest.mark.parametrize('kwargs, message', [
    (dict(class_groups=dict(novel=())), 'empty'),
    (dict(class_groups=dict(novel='cat')), 'sequence'),
    (dict(class_groups=dict(novel=('cat', 'cat'))), 'twice'),
    (dict(class_groups=dict(all=('cat', ))), 'reserved'),
    (dict(class_groups=dict(novel=('cat', )), metric='segm'), 'bbox'),
    (dict(class_groups=dict(novel=('cat', )), proposal_nums=(1, 10, 100)),
     'maxDets'),
])
def test_bad_arguments(ann_file, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FewShotCocoMetric(ann_file=ann_file, **kwargs)


def test_label_order_matters(ann_file):
    """The control: labels of the file's order read with another class order
    put every detection on a wrong class (so the tests above can fail)."""
    metric = FewShotCocoMetric(ann_file=ann_file, class_groups=GROUPS)
    metric.dataset_meta = dict(classes=OTHER_ORDER)
    samples = data_samples(CLASSES)
    metric.process({}, samples)
    assert metric.evaluate(size=len(samples))['coco/novel/bbox_mAP'] < 0.5


@ORDERS
def test_novel_only_test_set(ann_file, classes):
    """The 20-way protocol's test set: only the novel classes (in any order)
    are the dataset's; the table is COCOeval on the novel categories."""
    novel = tuple(c for c in classes if c in GROUPS['novel'])
    metric = FewShotCocoMetric(ann_file=ann_file, class_groups=dict(novel=GROUPS['novel']))
    metric.dataset_meta = dict(classes=novel)
    samples = data_samples(classes)
    for s in samples:  # the novel detections only, labelled in the novel order
        pred = s['pred_instances']
        keep = torch.tensor([classes[k] in novel for k in pred['labels'].tolist()],
                            dtype=torch.bool)
        s['pred_instances'] = dict(
            bboxes=pred['bboxes'][keep], scores=pred['scores'][keep],
            labels=torch.tensor([novel.index(classes[k])
                                 for k in pred['labels'][keep].tolist()], dtype=torch.long))
    metric.process({}, samples)
    results = metric.evaluate(size=len(samples))
    got = [results[f'coco/novel/bbox_{n}'] for n in STAT_NAMES]
    expected = cocoeval_stats(ann_file, [CAT_ID[n] for n in GROUPS['novel']])
    assert got == pytest.approx(expected, abs=1e-9)


@ORDERS
def test_builds_from_registry(ann_file, classes):
    from mmdet.registry import METRICS
    metric = METRICS.build(dict(type='FewShotCocoMetric', ann_file=ann_file,
                                class_groups=GROUPS))
    assert isinstance(metric, FewShotCocoMetric)
    assert run_metric(metric, classes)['coco/novel/bbox_mAP'] == 1.0
