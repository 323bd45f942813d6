"""Two-stage query-support few-shot detector (GCN-FSOD and its ablations)."""
import copy
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils.roi_align_bound import max_class_chunk


@MODELS.register_module()
class QuerySupportDetector(BaseDetector):
    """A two-stage detector that finds, in a query image, the objects of the
    classes shown by support patches.

    Query and support images go through the same backbone (C4 layout: the
    res4 map feeds the RPN and the RoI extractor, res5 is the RoI head's
    shared head). Each (query, support class) is a *pair*: the class's
    support map is the mean of its K shots' maps, and its support RoI
    feature the mean of their RoI features (in training over the distinct
    shots: a support marked ``is_repeat`` only fills a slot). The RPN
    (:class:`LocalCorrespondenceRPNHead`) and the RoI head
    (:class:`AttentiveRoIHead`) work on pairs; their class is binary
    ("the pair's class or not").

    Training (``mode='loss'``): items of :class:`QuerySupportDataset`
    through :class:`QuerySupportDataPreprocessor`; one pair per support
    class of each query; a negative pair (class absent from the query) has
    an empty ground truth, so only background targets.

    Testing (``mode='predict'``): support templates given once by
    :class:`SupportTemplateHook` (``set_support_templates``); their features
    are computed once and cached (until the next ``train()``); every query
    is paired with every class, ``class_chunk`` classes per batched forward
    (fewer when the RoI head's RoIAlign over ``class_chunk x images x
    test_cfg.rpn.max_per_img`` RoIs would pass mmcv's 32-bit index bound,
    see :meth:`test_class_chunk`); the detections of all classes are merged
    and capped at ``test_cfg.max_per_img`` (default 100) per image,
    labelled with the template classes' labels.

    Args:
        backbone, neck (optional), rpn_head, roi_head: module configs.
        train_cfg (dict): ``rpn``, ``rpn_proposal``, ``rcnn`` as for mmdet's
            two-stage detectors.
        test_cfg (dict): ``rpn``, ``rcnn`` and ``max_per_img``.
        class_chunk (int): classes per batched test forward (at most).
            Defaults to 20.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 neck: OptConfigType = None,
                 class_chunk: int = 20,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        rpn_head = copy.deepcopy(rpn_head)
        rpn_head.update(train_cfg=train_cfg.rpn if train_cfg else None,
                        test_cfg=test_cfg.rpn if test_cfg else None)
        self.rpn_head = MODELS.build(rpn_head)
        roi_head = copy.deepcopy(roi_head)
        roi_head.update(train_cfg=train_cfg.rcnn if train_cfg else None,
                        test_cfg=test_cfg.rcnn if test_cfg else None)
        self.roi_head = MODELS.build(roi_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if not isinstance(class_chunk, int) or class_chunk < 1:
            raise ValueError(f'QuerySupportDetector: class_chunk must be >= 1, '
                             f'got {class_chunk!r}')
        self.class_chunk = class_chunk
        self._chunk_logged = set()  # (images, chunk) lowerings already logged
        self._templates: Optional[Dict[int, Tuple[Tensor, InstanceData]]] = None
        self._template_feats: Optional[dict] = None

    # ------------------------------------------------------------- features
    def extract_feat(self, inputs: Tensor) -> Tensor:
        """(N, 3, H, W) -> the last backbone (or neck) map (N, C, H', W')."""
        x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x)
        return x[-1] if isinstance(x, (list, tuple)) else x

    def _support_feats(self, supports: Tensor, boxes: Tensor) -> Tuple[Tensor, Tensor]:
        """Support maps (S, C, h, w) and support RoI features (S, C', s, s)."""
        if supports.shape[0] == 0:
            raise ValueError('QuerySupportDetector: empty support set')
        maps = self.extract_feat(supports)
        return maps, self.roi_head.support_roi_feats(maps, boxes)

    def _make_pairs(self, query_feats: Tensor, batch_data_samples: SampleList,
                    support_inputs: Tensor):
        """One pair per support class of each query (training): the pairs'
        query maps (P, C, H, W), support maps, support RoI features, pair
        samples, and the index of each pair's query (the graph's
        ``query_groups``: the ways of one query share its graph work)."""
        if support_inputs is None:
            raise ValueError('QuerySupportDetector needs support_inputs: train it on a '
                             'QuerySupportDataset with a QuerySupportDataPreprocessor')
        if support_inputs.dim() != 5 or support_inputs.shape[0] != len(batch_data_samples):
            raise ValueError('QuerySupportDetector: support_inputs must be (B, S, 3, h, w) '
                             f'for {len(batch_data_samples)} queries, got '
                             f'{tuple(support_inputs.shape)}')
        num_shots = support_inputs.shape[1]
        boxes = torch.cat([s.support_instances.bboxes for s in batch_data_samples])
        maps, rois = self._support_feats(support_inputs.flatten(0, 1),  # (B * S, 3, h, w)
                                         boxes.to(support_inputs.device, support_inputs.dtype))
        pair_query, pair_maps, pair_rois, pair_samples = [], [], [], []
        for b, sample in enumerate(batch_data_samples):
            labels = sample.support_instances.labels.to(query_feats.device)
            # slots repeating a support (a class with fewer than K distinct
            # instances) stay out of the mean: it is over distinct shots, as
            # _class_feats' mean over the templates
            repeat = sample.support_instances.get('is_repeat', None)
            distinct = (torch.ones_like(labels, dtype=torch.bool) if repeat is None
                        else ~repeat.to(labels.device))  # (S,)
            for cls in dict.fromkeys(labels.tolist()):
                idx = torch.nonzero((labels == cls) & distinct).squeeze(1) + b * num_shots
                pair_query.append(b)
                pair_maps.append(maps[idx].mean(0))  # (C, h, w): mean of the K shots
                pair_rois.append(rois[idx].mean(0))  # (C', s, s)
                gt = sample.gt_instances
                gt = gt.clone() if cls == sample.query_class else gt[:0]
                pair = DetDataSample(metainfo=sample.metainfo)
                gt.labels = torch.zeros_like(gt.labels)  # 0 = the pair's class
                pair.gt_instances = gt
                if cls == sample.query_class and 'ignored_instances' in sample:
                    pair.ignored_instances = sample.ignored_instances
                pair_samples.append(pair)
        index = torch.tensor(pair_query, device=query_feats.device)
        return (query_feats[index], torch.stack(pair_maps), torch.stack(pair_rois),
                pair_samples, pair_query)

    # ---------------------------------------------------------------- modes
    def forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None,
                mode: str = 'tensor', support_inputs: Optional[Tensor] = None):
        if mode == 'loss':
            return self.loss(inputs, data_samples, support_inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples, support_inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and '
                           'tensor mode')

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList,
             support_inputs: Optional[Tensor] = None) -> dict:
        query = self.extract_feat(batch_inputs)  # (B, C, H, W)
        pair_q, pair_maps, pair_rois, pair_samples, groups = self._make_pairs(
            query, batch_data_samples, support_inputs)
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        losses, proposals = self.rpn_head.loss_and_predict(pair_q, pair_maps, pair_samples,
                                                           proposal_cfg, groups)
        losses.update(self.roi_head.loss((pair_q, ), pair_rois, proposals, pair_samples))
        return losses

    def _forward(self, batch_inputs: Tensor, batch_data_samples: Optional[SampleList] = None,
                 support_inputs: Optional[Tensor] = None):
        """RPN outputs of the pairs of ``support_inputs`` (training pairs)."""
        query = self.extract_feat(batch_inputs)
        pair_q, pair_maps, _, _, groups = self._make_pairs(query, batch_data_samples,
                                                           support_inputs)
        return self.rpn_head(pair_q, pair_maps, groups)

    # ------------------------------------------------------------- templates
    def set_support_templates(self, supports: Dict[int, Tuple[Tensor, InstanceData]]) -> None:
        """Give the test-time supports: label -> (inputs (K, 3, h, w) uint8,
        InstanceData with ``bboxes`` (K, 4)), as
        :func:`~mmfsod.detection.datasets.build_template_supports` makes."""
        if not supports:
            raise ValueError('QuerySupportDetector: empty support template set')
        for label, (inputs, info) in supports.items():
            if inputs.shape[0] == 0 or len(info) != inputs.shape[0]:
                raise ValueError(f'QuerySupportDetector: class {label} has '
                                 f'{inputs.shape[0]} template images and {len(info)} boxes')
        self._templates = dict(sorted(supports.items()))
        self._template_feats = None

    def train(self, mode: bool = True):
        self._template_feats = None  # weights will change: recompute at test
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs):
        self._template_feats = None  # new weights: the cached features are stale
        return super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        self._template_feats = None  # moved or cast: recompute on the new device
        return super()._apply(fn, *args, **kwargs)

    @torch.no_grad()
    def _class_feats(self) -> dict:
        """Support maps and RoI features of every template class, cached."""
        if self._templates is None:
            raise RuntimeError('QuerySupportDetector has no support templates: mmdet\'s '
                               'init_detector / inference_detector / DetInferencer do not '
                               'give them; use mmfsod.detection.apis.FewShotDetInferencer('
                               'config, checkpoint[, supports=...]) (the templates recorded '
                               'in the checkpoint, or your own boxes), or test with '
                               'SupportTemplateHook (checkpoint meta or templates_file)')
        if self._template_feats is None:
            labels, maps, rois = [], [], []
            for label, (inputs, info) in self._templates.items():
                x = self.data_preprocessor.normalize_supports(inputs)  # (K, 3, h, w)
                m, r = self._support_feats(x, info.bboxes.to(x.device).float())
                labels.append(label)
                maps.append(m.mean(0))
                rois.append(r.mean(0))
            self._template_feats = dict(labels=labels, maps=torch.stack(maps),
                                        rois=torch.stack(rois))
        return self._template_feats

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        feats = self._class_feats()
        query = self.extract_feat(batch_inputs)  # (B, C, H, W)
        num_imgs, labels = len(batch_data_samples), feats['labels']
        per_image: List[List[InstanceData]] = [[] for _ in range(num_imgs)]
        step = self.test_class_chunk(num_imgs, query.shape[1])
        for start in range(0, len(labels), step):
            chunk = list(range(start, min(start + step, len(labels))))
            n = len(chunk)
            # (B * n, C, H, W), image-major; one image: a view, no copy
            pair_q = (query.expand(n, -1, -1, -1) if num_imgs == 1 else
                      query.repeat_interleave(n, dim=0))
            groups = [b for b in range(num_imgs) for _ in chunk]  # pairs of one query
            pair_maps = feats['maps'][chunk].repeat(num_imgs, 1, 1, 1)
            pair_rois = feats['rois'][chunk].repeat(num_imgs, 1, 1, 1)
            metas = [s.metainfo for s in batch_data_samples for _ in chunk]
            proposals = self.rpn_head.predict_pairs(pair_q, pair_maps, metas, groups)
            # RoIs pooled from each image's one query map (no per-pair copy)
            pair_images = torch.tensor(groups, device=query.device)  # (B * n, )
            dets = self.roi_head.predict_pairs((query, ), pair_rois, metas, proposals,
                                               rescale=rescale, pair_images=pair_images)
            for p, det in enumerate(dets):
                det.labels = torch.full_like(det.labels, labels[chunk[p % n]])
                per_image[p // n].append(det)
        return self.add_pred_to_datasample(batch_data_samples,
                                           self._merge_classes(per_image))

    def test_class_chunk(self, num_imgs: int, channels: int) -> int:
        """``class_chunk``, lowered so that the RoI head's one RoIAlign call
        per chunk (``chunk x num_imgs`` pairs of up to
        ``test_cfg.rpn.max_per_img`` proposals, ``channels`` deep) stays
        within mmcv's 32-bit index bound; ValueError when not even one class
        fits."""
        rpn_cfg = self.rpn_head.test_cfg
        rois_per_pair = rpn_cfg.get('max_per_img') if rpn_cfg else None
        if rois_per_pair is None:  # unknown: the RoI head's own check guards
            return self.class_chunk
        safe = max_class_chunk(num_imgs, rois_per_pair, channels,
                               self.roi_head.roi_align_output_size())
        if safe < 1:
            raise ValueError(
                f'QuerySupportDetector: {num_imgs} test images x '
                f'model.test_cfg.rpn.max_per_img={rois_per_pair} proposals of one class '
                'pass the RoIAlign 32-bit index bound: lower val_dataloader/test_dataloader '
                'batch_size or model.test_cfg.rpn.max_per_img')
        if safe < self.class_chunk and (num_imgs, safe) not in self._chunk_logged:
            self._chunk_logged.add((num_imgs, safe))
            print_log(f'QuerySupportDetector: class_chunk {self.class_chunk} -> {safe} '
                      f'classes per forward at {num_imgs} image(s) per batch (RoIAlign\'s '
                      '32-bit index bound)', logger='current')
        return min(self.class_chunk, safe)

    def _merge_classes(self, per_image: List[List[InstanceData]]) -> List[InstanceData]:
        """Each image's detections of all classes, the ``max_per_img`` best."""
        max_per_img = (self.test_cfg or {}).get('max_per_img', 100)
        results = []
        for dets in per_image:
            merged = InstanceData.cat(dets)
            if len(merged) > max_per_img:
                keep = merged.scores.topk(max_per_img).indices
                merged = merged[keep]
            results.append(merged)
        return results
