"""COCO results files in the user's own ids: the test tool's (FewShotCocoMetric
with ``outfile_prefix``) and the demo's (``coco_detections`` with
``CocoIds``), on a json with non-consecutive image and category ids and file
names in sub-folders; each evaluates with pycocotools against that json to
the project's metric. Also the metric's line when nothing is detected."""
import json
import logging
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import mmfsod.detection  # noqa: F401  (registers the metric)
from mmfsod.detection.apis import CocoIds, coco_detections
from mmfsod.detection.apis.few_shot_inferencer import output_names
from mmfsod.detection.evaluation import FewShotCocoMetric
from mmfsod.detection.evaluation.few_shot_coco_metric import STAT_NAMES

CATEGORIES = [dict(id=11, name='kiwi'), dict(id=5, name='lime'), dict(id=23, name='plum'),
              dict(id=2, name='fig')]
CLASSES = ('fig', 'plum', 'kiwi', 'lime')  # label order: neither the file's nor the ids'
GROUPS = dict(novel=('plum', 'lime'), base=('fig', 'kiwi'))
# image id -> (file_name, height, width)
IMAGES = {907: ('train/a/0001.jpg', 120, 160), 12: ('val/0001.jpg', 100, 100),
          3301: ('val/sub/0002.jpg', 140, 90)}
GT = [(907, 'kiwi', [10, 10, 30, 30]), (907, 'fig', [60, 50, 40, 40]),
      (12, 'plum', [5, 5, 50, 40]), (12, 'lime', [60, 60, 30, 30]),
      (3301, 'fig', [10, 20, 40, 60]), (3301, 'kiwi', [50, 90, 30, 40])]
# (image id, class, xywh, score): hits, a shifted box, a wrong class, a miss
DETS = [(907, 'kiwi', [11, 10, 30, 30], 0.9), (907, 'fig', [0, 0, 40, 40], 0.8),
        (907, 'fig', [62, 52, 40, 40], 0.6), (12, 'plum', [5, 5, 50, 40], 0.95),
        (12, 'kiwi', [60, 60, 30, 30], 0.7), (3301, 'fig', [10, 20, 40, 55], 0.5),
        (3301, 'lime', [50, 90, 30, 40], 0.4)]


@pytest.fixture
def ann_file(tmp_path):
    cat_id = {c['name']: c['id'] for c in CATEGORIES}
    coco = dict(images=[dict(id=i, file_name=f, height=h, width=w)
                        for i, (f, h, w) in IMAGES.items()],
                annotations=[dict(id=100 + k, image_id=i, category_id=cat_id[n], bbox=b,
                                  area=b[2] * b[3], iscrowd=0)
                             for k, (i, n, b) in enumerate(GT)],
                categories=CATEGORIES)
    path = tmp_path / 'annotations' / 'val.json'
    path.parent.mkdir()
    path.write_text(json.dumps(coco))
    return str(path)


def _pred(img_id):
    dets = [d for d in DETS if d[0] == img_id]
    return InstanceData(
        bboxes=torch.tensor([[x, y, x + w, y + h] for _, _, (x, y, w, h), _ in dets],
                            dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor([s for *_, s in dets]),
        labels=torch.tensor([CLASSES.index(n) for _, n, _, _ in dets], dtype=torch.long))


def _metric(ann_file, prefix, with_dets=True):
    metric = FewShotCocoMetric(ann_file=ann_file, class_groups=GROUPS,
                               outfile_prefix=prefix)
    metric.dataset_meta = dict(classes=CLASSES)
    samples = []
    for img_id, (_, h, w) in IMAGES.items():
        pred = _pred(img_id) if with_dets else _pred(-1)
        samples.append(dict(img_id=img_id, ori_shape=(h, w), pred_instances=pred))
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def _cocoeval(ann_file, results_file, cat_ids=None):
    gt = COCO(ann_file)
    with open(results_file) as f:
        dt = gt.loadRes(json.load(f))
    ev = COCOeval(gt, dt, 'bbox')
    if cat_ids is not None:
        ev.params.catIds = cat_ids
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return list(ev.stats)


def test_test_tools_results_file_in_the_jsons_ids(ann_file, tmp_path):
    results = _metric(ann_file, str(tmp_path / 'out' / 'results'))
    path = tmp_path / 'out' / 'results.bbox.json'
    dets = json.loads(path.read_text())
    by_id = {c['id']: c['name'] for c in CATEGORIES}
    assert {d['image_id'] for d in dets} == set(IMAGES)
    # every detection under its own image id and its class's category id
    assert sorted((d['image_id'], by_id[d['category_id']], round(d['score'], 4))
                  for d in dets) == sorted((i, n, s) for i, n, _, s in DETS)
    got = [results[f'coco/all/bbox_{n}'] for n in STAT_NAMES]
    assert got == pytest.approx(_cocoeval(ann_file, str(path)), abs=1e-12)
    assert 0 < results['coco/all/bbox_mAP'] < 1
    ids = {c['name']: c['id'] for c in CATEGORIES}
    for group, names in GROUPS.items():
        expect = _cocoeval(ann_file, str(path), [ids[n] for n in names])
        assert results[f'coco/{group}/bbox_mAP'] == pytest.approx(expect[0], abs=1e-12)


def test_demos_results_file_equals_the_metric(ann_file, tmp_path):
    """The demo's path: query files (anywhere: matched by their file_name's
    ending), the support classes' category ids by name."""
    ids = CocoIds(ann_file)
    root = tmp_path / 'elsewhere' / 'images'
    dets = []
    for img_id, (name, _, _) in IMAGES.items():
        query = str(root / name)
        assert ids.image_id(query) == img_id
        pred = DetDataSample(pred_instances=_pred(img_id))
        dets += coco_detections(pred, CLASSES, query, ids.image_ids([query])[0],
                                ids.class_ids(CLASSES))
    assert ids.class_ids(CLASSES) == [2, 23, 11, 5]
    path = tmp_path / 'results.bbox.json'
    path.write_text(json.dumps(dets))
    metric = _metric(ann_file, str(tmp_path / 'metric' / 'results'))
    stats = _cocoeval(ann_file, str(path))
    assert stats[0] == pytest.approx(metric['coco/all/bbox_mAP'], abs=1e-12)
    assert stats == pytest.approx([metric[f'coco/all/bbox_{n}'] for n in STAT_NAMES],
                                  abs=1e-12)
    # without an annotation file: file names and class names, no ids
    plain = coco_detections(DetDataSample(pred_instances=_pred(12)), CLASSES, 'q.jpg')
    assert plain and all(set(d) == {'file_name', 'category_name', 'bbox', 'score'}
                         for d in plain)


def test_coco_ids_matching(ann_file, tmp_path):
    ids = CocoIds(ann_file)
    assert ids.image_id('val/0001.jpg') == 12  # a relative path: made absolute
    assert ids.image_id(str(tmp_path / 'x' / 'train' / 'a' / '0001.jpg')) == 907
    assert ids.image_id(str(tmp_path / 'test' / '0001.jpg')) is None  # same name elsewhere
    with pytest.raises(ValueError, match=r'test/0001.jpg is no image of .*val.json'):
        ids.image_ids([str(tmp_path / 'test' / '0001.jpg')])
    with pytest.raises(ValueError, match=r"classes \['pear'\] are not categories"):
        ids.class_ids(['fig', 'pear'])
    with pytest.raises(FileNotFoundError, match='missing.json'):
        CocoIds(str(tmp_path / 'missing.json'))


def test_output_names_never_overwrite():
    """The demo's pictures and jsons: file names, or the paths below the
    common folder when two queries share a file name (sub-folders)."""
    assert output_names(['/d/images/a.jpg', 'b.jpg']) == ['a.jpg', 'b.jpg']
    assert output_names(['/d/images/train/0001.jpg', '/d/images/val/0001.jpg',
                         '/d/images/val/sub/0002.jpg']) == [
        osp.join('train', '0001.jpg'), osp.join('val', '0001.jpg'),
        osp.join('val', 'sub', '0002.jpg')]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_no_detection_is_one_clear_line_and_a_table_of_zeros(ann_file, tmp_path):
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    try:
        results = _metric(ann_file, None, with_dets=False)
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in handler.records]
    assert not [r for r in handler.records if r.levelno >= logging.ERROR]
    clear = [m for m in lines if 'no detection in the 3 test images' in m]
    assert len(clear) == 1 and 'train longer or lower' in clear[0]
    assert any('few-shot COCO bbox' in m for m in lines)  # the table
    assert results['coco/all/bbox_mAP'] == 0.0 and results['coco/novel/bbox_AR@100'] == 0.0
    assert not osp.exists(tmp_path / 'results.bbox.json')
