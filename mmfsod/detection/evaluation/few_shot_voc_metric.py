"""PASCAL VOC box AP of few-shot class groups (novel / base / all)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmdet.evaluation.functional import eval_map
from mmdet.evaluation.metrics import VOCMetric
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from terminaltables import AsciiTable

from ..datasets.class_splits import SPLIT_NAMES, resolve_classes
from .few_shot_coco_metric import ALL_GROUP, FewShotCocoMetric

EVAL_MODES = ('11points', 'area')


def ap_name(iou_thr: float) -> str:
    """The result name of the AP at one IoU threshold: ``bbox_mAP_50`` for
    0.5 (the name :class:`FewShotCocoMetric` gives COCO's AP50)."""
    return f'bbox_mAP_{int(round(iou_thr * 100)):02d}'


def group_mean_ap(class_aps: Sequence[float], class_num_gts: Sequence[int]) -> float:
    """The mean AP of a class group as :func:`mmdet.evaluation.eval_map`
    takes it: over the classes that have ground truth (difficult boxes not
    counted); ``-1`` when none has."""
    aps = [ap for ap, num_gts in zip(class_aps, class_num_gts) if num_gts > 0]
    return np.array(aps).mean().item() if aps else -1.0


@METRICS.register_module()
class FewShotVOCMetric(VOCMetric):
    """PASCAL VOC box AP of each class group, e.g. novel and base classes.

    The per-class AP is mmdet's :func:`~mmdet.evaluation.eval_map` on the
    detections of all classes, exactly as :class:`mmdet.evaluation.VOCMetric`
    computes it (VOC's legacy ``+ 1`` box size; a detection matched to an
    ignored -- VOC ``difficult`` -- box is neither a true nor a false
    positive, and ignored boxes are not counted in the recall). The AP of a
    group is the mean over its classes that have ground truth, so the group
    ``all`` equals VOCMetric's mAP and the group ``novel`` equals VOCMetric's
    mAP on the novel classes alone (the per-class AP does not depend on the
    other classes' detections). Each group reports ``<group>/bbox_mAP_<T>``
    per IoU threshold ``T`` (``bbox_mAP_50`` at 0.5, the key
    :class:`~mmfsod.detection.evaluation.FewShotCocoMetric` gives COCO's
    AP50; ``evaluate`` adds the prefix, ``pascal_voc/`` by default), not
    rounded; a group without ground truth reports ``-1``. A per-class table
    (with each class's group) and a table with a row per group are logged.

    Args:
        class_groups (dict): group name -> class names, or a split name
            (``'NOVEL_CLASSES'``, ``'BASE_CLASSES'``, ``'ALL_CLASSES'``) of
            ``class_splits``; as in :class:`FewShotCocoMetric` (names must be
            classes of the dataset; ``'all'`` is reserved).
        class_splits (dict, optional): the split that split names in
            ``class_groups`` refer to (a VOC split's class lists); ``None``:
            the dataset's (``dataset_meta['class_splits']``, e.g. the
            ``class_splits`` of ``FewShotVOCDataset``), so the configs of
            the three VOC splits share one evaluator.
        iou_thrs (float | list[float]): IoU thresholds; 0.5 is VOC's AP50.
        eval_mode (str): ``'11points'`` (VOC2007's 11-point interpolated AP,
            as TFA and the few-shot VOC papers report; the default) or
            ``'area'`` (the area under the precision-recall curve, VOC2010+).
        nproc (int): processes of :func:`eval_map` (mmdet's default 4).
        collect_device (str): as :class:`mmengine.evaluator.BaseMetric`.
        prefix (str, optional): as :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix: Optional[str] = 'pascal_voc'

    def __init__(self,
                 class_groups: Dict[str, Union[str, Sequence[str]]],
                 class_splits: Optional[dict] = None,
                 iou_thrs: Union[float, List[float]] = 0.5,
                 eval_mode: str = '11points',
                 nproc: int = 4,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        name = type(self).__name__
        if eval_mode not in EVAL_MODES:
            raise ValueError(f"{name}: eval_mode must be one of {list(EVAL_MODES)}, "
                             f'got {eval_mode!r}')
        thrs = [iou_thrs] if isinstance(iou_thrs, (int, float)) else list(iou_thrs)
        if not thrs or not all(isinstance(t, (int, float)) and 0 < t < 1 for t in thrs):
            raise ValueError(f'{name}: iou_thrs must be thresholds in (0, 1), '
                             f'got {iou_thrs!r}')
        if not isinstance(nproc, int) or nproc < 1:
            raise ValueError(f'{name}: nproc must be a positive int, got {nproc!r}')
        super().__init__(iou_thrs=[float(t) for t in thrs], metric='mAP',
                         eval_mode=eval_mode, collect_device=collect_device,
                         prefix=prefix)
        self.nproc = nproc
        self._group_spec = class_groups
        named = isinstance(class_groups, dict) and any(
            isinstance(v, str) and v in SPLIT_NAMES for v in class_groups.values())
        if named and class_splits is None:
            # the split comes with the dataset (its metainfo's class_splits)
            FewShotCocoMetric._check_groups({  # the dict's form, now
                g: (v, ) if isinstance(v, str) and v in SPLIT_NAMES else v
                for g, v in class_groups.items()})
            self.class_groups = None
        else:
            self.class_groups = self._resolve_groups(class_splits)

    def _resolve_groups(self, class_splits: Optional[dict]) -> Dict[str, tuple]:
        """``class_groups`` with split names replaced by the classes of
        ``class_splits``, checked."""
        groups = self._group_spec
        if isinstance(groups, dict):
            groups = {
                g: (resolve_classes(v, class_splits,
                                    f'{type(self).__name__} class group {g!r}')
                    if isinstance(v, str) and v in SPLIT_NAMES else v)
                for g, v in groups.items()}
        return FewShotCocoMetric._check_groups(groups)

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Optional[dict]: meta info of the dataset; setting it checks that
        every class of ``class_groups`` is in its ``classes``."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        if dataset_meta is not None:
            if self.class_groups is None:
                split = dataset_meta.get('class_splits')
                if split is None:
                    raise ValueError(
                        f'{type(self).__name__}: class_groups name splits '
                        f'{self._group_spec} but neither class_splits nor the '
                        "dataset's metainfo (class_splits) gives the split")
                self.class_groups = self._resolve_groups(split)
            classes = tuple(dataset_meta['classes'])
            for group, names in self.class_groups.items():
                unknown = [n for n in names if n not in classes]
                if unknown:
                    raise ValueError(f'{type(self).__name__}: class group {group!r}: '
                                     f'{unknown} not among the dataset classes '
                                     f'{list(classes)}')
        BaseMetric.dataset_meta.fset(self, dataset_meta)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each image's ground truth (ignored boxes apart) and its
        detections per class, as :meth:`VOCMetric.process` (a sample without
        ignored instances has none)."""
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            gt, ignored = sample['gt_instances'], sample.get('ignored_instances', {})
            ann = dict(labels=gt['labels'].cpu().numpy(),  # (G, )
                       bboxes=gt['bboxes'].cpu().numpy(),  # (G, 4)
                       bboxes_ignore=np.zeros((0, 4), np.float32),
                       labels_ignore=np.zeros((0, ), np.int64))
            if 'bboxes' in ignored:
                ann.update(bboxes_ignore=ignored['bboxes'].cpu().numpy(),
                           labels_ignore=ignored['labels'].cpu().numpy())
            pred = sample['pred_instances']
            bboxes = pred['bboxes'].cpu().numpy()  # (N, 4)
            scores = pred['scores'].cpu().numpy()  # (N, )
            labels = pred['labels'].cpu().numpy()  # (N, )
            dets = [np.hstack([bboxes[labels == c], scores[labels == c, None]])
                    for c in range(num_classes)]  # num_classes x (n_c, 5)
            self.results.append((ann, dets))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """VOC AP of every class group (``all`` last) at each IoU threshold.

        Args:
            results (list): ``(ann, dets)`` pairs made by :meth:`process`.

        Returns:
            Dict[str, float]: ``<group>/bbox_mAP_<T>`` -> AP.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        classes = tuple(self.dataset_meta['classes'])
        groups = OrderedDict(
            (g, [classes.index(n) for n in names]) for g, names in self.class_groups.items())
        groups[ALL_GROUP] = list(range(len(classes)))
        owner = {i: ', '.join(g for g, ids in groups.items() if g != ALL_GROUP and i in ids)
                 for i in range(len(classes))}

        eval_results: Dict[str, float] = OrderedDict()
        group_aps: Dict[str, List[float]] = OrderedDict((g, []) for g in groups)
        for iou_thr in self.iou_thrs:
            _, per_class = eval_map(
                preds, gts, iou_thr=iou_thr, logger='silent', nproc=self.nproc,
                eval_mode=self.eval_mode, use_legacy_coordinate=True)
            aps = [float(r['ap']) for r in per_class]
            num_gts = [int(r['num_gts']) for r in per_class]
            for group, ids in groups.items():
                ap = group_mean_ap([per_class[i]['ap'] for i in ids],
                                   [num_gts[i] for i in ids])
                eval_results[f'{group}/{ap_name(iou_thr)}'] = ap
                group_aps[group].append(ap)
            table = [['class', 'group', 'gts', 'dets', 'recall',
                      f'AP{int(round(iou_thr * 100)):02d}']]
            for i, r in enumerate(per_class):
                recall = r['recall'][-1] if np.size(r['recall']) else 0.0
                table.append([classes[i], owner[i] or '-', str(num_gts[i]),
                              str(r['num_dets']), f'{recall:.3f}', f'{aps[i]:.3f}'])
            logger.info(f'few-shot VOC per class (IoU {iou_thr}, {self.eval_mode}):\n'
                        + AsciiTable(table).table)
        names = [ap_name(t) for t in self.iou_thrs]
        table = [['group', 'classes', *names]]
        for group, ids in groups.items():
            table.append([group, str(len(ids)), *(f'{ap:.3f}' for ap in group_aps[group])])
        logger.info(f'few-shot VOC bbox ({self.eval_mode} AP):\n' + AsciiTable(table).table)
        return eval_results
