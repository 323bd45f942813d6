"""COCO box AP/AR of few-shot class groups (novel / base / all)."""
import contextlib
import io
import logging
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmdet.datasets.api_wrappers import COCO, COCOeval, COCOevalMP
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.fileio import load
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable

from ..datasets.class_splits import SPLIT_NAMES, resolve_classes

# COCOeval.stats[i] -> result name (``<group>/bbox_<name>``), for maxDets (1, 10, 100):
# AP over IoU .50:.95, at .50, at .75, on small / medium / large boxes (100 dets),
# then AR at 1 / 10 / 100 dets and AR on small / medium / large boxes (100 dets).
STAT_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l', 'AR@1', 'AR@10',
              'AR@100', 'AR_s', 'AR_m', 'AR_l')
COCO_MAX_DETS = (1, 10, 100)
ALL_GROUP = 'all'


@METRICS.register_module()
class FewShotCocoMetric(CocoMetric):
    """COCO box AP and AR of each class group, e.g. novel and base classes.

    For every group of ``class_groups`` and for the group ``all`` (every class
    of the dataset), pycocotools' ``COCOeval`` runs on the same detections with
    ``params.catIds`` restricted to the group's category ids and ``imgIds`` all
    images of the annotation file (as :class:`CocoMetric`). Detections of
    classes outside a group are ignored for that group. Each group reports the
    12 numbers of ``COCOeval.stats`` as ``<group>/bbox_<name>``, ``<name>`` in
    :data:`STAT_NAMES` (``evaluate`` adds the prefix, ``coco/`` by default);
    values are not rounded. A category without ground truth is left out of
    the group's means by COCOeval; a group without any ground truth reports
    ``-1``. One table with a row per group is logged. Without any detection
    (a barely trained model) the table is one of zeros, after one warning
    line that says so.

    With ``outfile_prefix``, the detections are written to
    ``<outfile_prefix>.bbox.json`` in COCO's results format with the ids of
    ``ann_file``: ``image_id`` the dataset's ``img_id`` (the json's image id)
    and ``category_id`` the category named as the label's class; they
    evaluate with pycocotools against ``ann_file`` to the same numbers.

    ``maxDets`` are COCO's standard ``(1, 10, 100)`` detections per image, so
    the numbers are the COCO leaderboard / few-shot papers' ones
    (:class:`CocoMetric` uses its proposal counts ``(100, 300, 1000)``).

    Args:
        class_groups (dict): group name -> class names, e.g.
            ``dict(novel=('cat', 'dog'), base=('car', ...))``, or a split name
            (``'NOVEL_CLASSES'``, ``'BASE_CLASSES'``, ``'ALL_CLASSES'``) of
            ``class_splits``. Names must be
            classes of the dataset (``dataset_meta['classes']``). A group may
            not be empty nor name a class twice, and may not be called
            ``'all'``; groups sharing classes are allowed (with a warning).
        class_splits (dict, optional): the split that split names in
            ``class_groups`` refer to; ``None`` is COCO's built-in split.
        metric (str | list[str]): only ``'bbox'``.
        classwise (bool): must be False; for per-class numbers give each class
            its own group.
        metric_items (Sequence[str], optional): names of :data:`STAT_NAMES` to
            report per group; ``None`` reports all 12.
        **kwargs: other arguments of :class:`mmdet.evaluation.CocoMetric`
            (``ann_file``, ``iou_thrs``, ``format_only``, ``outfile_prefix``,
            ``backend_args``, ``collect_device``, ``prefix``,
            ``sort_categories``, ``use_mp_eval``), except ``proposal_nums``.
    """

    def __init__(self,
                 class_groups: Dict[str, Union[str, Sequence[str]]],
                 class_splits: Optional[dict] = None,
                 metric: Union[str, List[str]] = 'bbox',
                 classwise: bool = False,
                 metric_items: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        if metrics != ['bbox']:
            raise ValueError(f'{type(self).__name__} evaluates boxes only '
                             f"(metric='bbox'), got metric={metric!r}")
        if classwise:
            raise ValueError(f'{type(self).__name__} has no `classwise`; give each '
                             'class its own group in `class_groups` instead')
        if 'proposal_nums' in kwargs:
            raise ValueError(f'{type(self).__name__} uses the standard COCO maxDets '
                             f'{COCO_MAX_DETS}; `proposal_nums` is not supported')
        if metric_items is not None:
            unknown = [item for item in metric_items if item not in STAT_NAMES]
            if unknown:
                raise ValueError(f'unknown metric_items {unknown}; '
                                 f'choose from {list(STAT_NAMES)}')
        super().__init__(metric='bbox', metric_items=metric_items, **kwargs)
        self.ann_file = kwargs.get('ann_file')
        if isinstance(class_groups, dict):
            class_groups = {
                g: (resolve_classes(v, class_splits, f'class group {g!r}')
                    if isinstance(v, str) and v in SPLIT_NAMES else v)
                for g, v in class_groups.items()}
        self.class_groups = self._check_groups(class_groups)

    @staticmethod
    def _check_groups(
            class_groups: Dict[str, Sequence[str]]) -> Dict[str, Tuple[str, ...]]:
        """Validate ``class_groups``; warn about classes in several groups."""
        if not isinstance(class_groups, dict) or not class_groups:
            raise ValueError('class_groups must be a non-empty dict of group name '
                             f'-> class names, got {class_groups!r}')
        groups: Dict[str, Tuple[str, ...]] = OrderedDict()
        for group, names in class_groups.items():
            if group == ALL_GROUP:
                raise ValueError(f"class group name '{ALL_GROUP}' is reserved: "
                                 'every class of the dataset is always evaluated')
            if isinstance(names, str):
                raise ValueError(f'class group {group!r} must be a sequence of class '
                                 f'names or one of {list(SPLIT_NAMES)}, got the '
                                 f'string {names!r}')
            names = tuple(names)
            if not names:
                raise ValueError(f'class group {group!r} is empty')
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f'class group {group!r} names {repeated} twice')
            groups[group] = names
        owners: Dict[str, List[str]] = {}
        for group, names in groups.items():
            for name in names:
                owners.setdefault(name, []).append(group)
        shared = {name: gs for name, gs in owners.items() if len(gs) > 1}
        if shared:
            print_log(f'class groups overlap (class -> groups): {shared}',
                      logger='current', level=logging.WARNING)
        return groups

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Optional[dict]: meta info of the dataset; setting it checks that
        every class of ``class_groups`` is in its ``classes``."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        if dataset_meta is not None:
            classes = tuple(dataset_meta['classes'])
            for group, names in self.class_groups.items():
                unknown = [name for name in names if name not in classes]
                if unknown:
                    raise ValueError(f'class group {group!r}: {unknown} not among '
                                     f'the dataset classes {list(classes)}')
        BaseMetric.dataset_meta.fset(self, dataset_meta)

    def _group_cat_ids(self) -> Dict[str, List[int]]:
        """Category ids of each group (``all`` last), matched by category name
        in the annotation file, as CocoMetric's ``cat_ids``."""
        name_to_id = {cat['name']: cat['id']
                      for cat in self._coco_api.load_cats(self.cat_ids)}
        group_ids: Dict[str, List[int]] = OrderedDict()
        for group, names in self.class_groups.items():
            missing = [name for name in names if name not in name_to_id]
            if missing:
                raise ValueError(f'class group {group!r}: {missing} have no category '
                                 f'in the annotation file ({sorted(name_to_id)})')
            group_ids[group] = [name_to_id[name] for name in names]
        group_ids[ALL_GROUP] = list(self.cat_ids)
        return group_ids

    def _eval_group(self, coco_dt: COCO, cat_ids: List[int]) -> np.ndarray:
        """``COCOeval.stats`` (12,) of the detections on ``cat_ids`` only."""
        eval_cls = COCOevalMP if self.use_mp_eval else COCOeval
        coco_eval = eval_cls(self._coco_api, coco_dt, 'bbox')
        coco_eval.params.catIds = cat_ids
        coco_eval.params.imgIds = self.img_ids
        coco_eval.params.maxDets = list(COCO_MAX_DETS)
        coco_eval.params.iouThrs = self.iou_thrs
        with contextlib.redirect_stdout(io.StringIO()):  # the table replaces its log
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        return coco_eval.stats

    def _empty_detections(self) -> COCO:
        """A detection set without any detection (``COCO.loadRes`` refuses
        an empty list); COCOeval gives it AP 0 where there is ground truth."""
        coco_dt = COCO()
        coco_dt.dataset = dict(images=list(self._coco_api.dataset['images']),
                               categories=list(self._coco_api.dataset['categories']),
                               annotations=[])
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt.createIndex()
        return coco_dt

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """COCO box AP/AR of every class group.

        Args:
            results (list): ``(gt, pred)`` pairs made by
                :meth:`CocoMetric.process`.

        Returns:
            Dict[str, float]: ``<group>/bbox_<name>`` -> value for each group
            (``all`` included) and each name of :data:`STAT_NAMES` (or of
            ``metric_items``); empty with ``format_only``.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        with tempfile.TemporaryDirectory() as tmp_dir:
            outfile_prefix = self.outfile_prefix or osp.join(tmp_dir, 'results')
            if self._coco_api is None:
                logger.info('Converting ground truth to coco format...')
                self._coco_api = COCO(self.gt_to_coco_json(gts, outfile_prefix))
            if self.cat_ids is None:
                # label i is the i-th class *by name* (CocoMetric takes the
                # file's category order, wrong when the classes differ in order)
                by_name = {}
                for cat in self._coco_api.load_cats(self._coco_api.get_cat_ids()):
                    by_name.setdefault(cat['name'], cat['id'])
                missing = [c for c in self.dataset_meta['classes'] if c not in by_name]
                if missing:
                    raise ValueError(f'{type(self).__name__}: classes {missing} are not '
                                     'categories of the ground-truth annotations')
                self.cat_ids = [by_name[c] for c in self.dataset_meta['classes']]
            if self.img_ids is None:
                self.img_ids = self._coco_api.get_img_ids()
            result_files = self.results2json(preds, outfile_prefix)
            if self.outfile_prefix:
                ids = (f'the ids of {self.ann_file}' if self.ann_file else
                       'image_id = img_id, category_id = label index (no ann_file: give '
                       "the evaluator's ann_file for your json's ids)")
                logger.info(f"detections in COCO's results format ({ids}): "
                            f'{result_files["bbox"]}')
            if self.format_only:
                return OrderedDict()
            detections = load(result_files['bbox'])
        if detections:
            coco_dt = self._coco_api.loadRes(detections)
        else:
            logger.warning(
                f'{type(self).__name__}: no detection in the {len(preds)} test images, so '
                'every AP and AR below is 0: the model gives no box above its score '
                'threshold (barely trained?); train longer or lower '
                'model.test_cfg.rcnn.score_thr')
            coco_dt = self._empty_detections()
        items = self.metric_items or STAT_NAMES
        eval_results: Dict[str, float] = OrderedDict()
        table = [['group', 'classes', *items]]
        for group, cat_ids in self._group_cat_ids().items():
            stats = dict(zip(STAT_NAMES, self._eval_group(coco_dt, cat_ids)))
            for item in items:
                eval_results[f'{group}/bbox_{item}'] = float(stats[item])
            table.append([group, str(len(cat_ids)),
                          *(f'{stats[i]:.3f}' for i in items)])
        logger.info(f'few-shot COCO bbox (maxDets {COCO_MAX_DETS}):\n'
                    + AsciiTable(table).table)
        return eval_results
