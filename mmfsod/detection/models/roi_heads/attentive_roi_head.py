"""RoI head of a query-support detector: query RoIs matched to support RoIs."""
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from torch import Tensor

from ..utils.roi_align_bound import check_roi_align_numel

ROI_BOUND_HINT = (
    'at test QuerySupportDetector lowers model.class_chunk to stay below it, so '
    'lower val_dataloader/test_dataloader batch_size or model.test_cfg.rpn.max_per_img; '
    'in training lower train_dataloader.batch_size, the support ways per query or '
    'model.train_cfg.rcnn.sampler.num')


@MODELS.register_module()
class AttentiveRoIHead(StandardRoIHead):
    """Second stage of GCN-FSOD: every proposal of a pair is classified as
    "the support's class or not" and its box refined, by a bbox head that
    sees the query RoI feature and the support RoI feature of the pair
    (:class:`AttentiveBBoxHead`: global + local matching, category-attentive
    regression).

    Inputs are pair-level, as for :class:`LocalCorrespondenceRPNHead`: the
    query map of each pair (P, C, H, W), the proposals of each pair, and the
    pooled support RoI feature of each pair (P, C', S, S) from
    :meth:`support_roi_feats`. Proposals of a negative pair meet an empty
    ground truth, so all of them are background. At test, ``pair_images``
    lets the pairs of one image read its one query map (no per-pair copy).

    Every RoIAlign call is checked against mmcv's 32-bit index bound
    (:mod:`~mmfsod.detection.models.utils.roi_align_bound`): past it, a
    ValueError names the config keys to lower.
    """

    def roi_align_output_size(self) -> Tuple[int, int]:
        """(out_h, out_w) of the RoI extractor's RoIAlign."""
        size = self.bbox_roi_extractor.roi_layers[0].output_size
        return (size, size) if isinstance(size, int) else tuple(size)

    def _extract(self, feats: List[Tensor], rois: Tensor, where: str) -> Tensor:
        """The RoI extractor on ``rois`` (M, 5), within the RoIAlign bound."""
        check_roi_align_numel(rois.shape[0], feats[0].shape[1], self.roi_align_output_size(),
                              f'AttentiveRoIHead ({where})', ROI_BOUND_HINT)
        return self.bbox_roi_extractor(feats, rois)

    def support_roi_feats(self, support_feats: Tensor, support_boxes: Tensor) -> Tensor:
        """RoI features of the support instances.

        Args:
            support_feats (Tensor): (S, C, h, w) support maps.
            support_boxes (Tensor): (S, 4) each support's box in its
                support-image pixels.

        Returns:
            Tensor: (S, C', s, s) pooled (and, with a shared head such as
            res5, transformed) features.
        """
        rois = bbox2roi([b[None] for b in support_boxes])  # (S, 5)
        feats = self._extract([support_feats], rois, 'support RoIs')
        if self.with_shared_head:
            feats = self.shared_head(feats)
        return feats

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor, pair_support_feats: Tensor,
                      pair_images: Optional[Tensor] = None) -> dict:
        """``rois`` (M, 5) index pairs in column 0; ``pair_support_feats``
        (P, C', s, s); ``pair_images`` (P, ): the map of x that pair p's
        RoIs are pooled from (``None``: map p)."""
        query_rois = rois
        if pair_images is not None:  # column 0: pair -> its image's map
            image = pair_images.to(rois.device)[rois[:, 0].long()].to(rois.dtype)
            query_rois = torch.cat([image[:, None], rois[:, 1:]], dim=1)  # (M, 5)
        query = self._extract(list(x[:self.bbox_roi_extractor.num_inputs]), query_rois,
                              'query RoIs')  # (M, C, S, S)
        if self.with_shared_head:
            query = self.shared_head(query)  # (M, C', s, s)
        support = pair_support_feats[rois[:, 0].long()]  # (M, C', s, s)
        cls_score, bbox_pred = self.bbox_head(query, support)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=query)

    def loss(self, x: Tuple[Tensor], pair_support_feats: Tensor,
             rpn_results_list: InstanceList, pair_samples: SampleList) -> dict:
        if not len(rpn_results_list) == len(pair_samples) == len(pair_support_feats):
            raise ValueError(f'AttentiveRoIHead: {len(rpn_results_list)} proposal sets, '
                             f'{len(pair_samples)} pairs, {len(pair_support_feats)} '
                             'support features')
        gts, ignores, _ = unpack_gt_instances(pair_samples)
        sampling_results: List[SamplingResult] = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            assign = self.bbox_assigner.assign(rpn_results, gts[i], ignores[i])
            sampling_results.append(self.bbox_sampler.sample(
                assign, rpn_results, gts[i], feats=[lvl[i][None] for lvl in x]))
        rois = bbox2roi([res.priors for res in sampling_results])
        results = self._bbox_forward(x, rois, pair_support_feats)
        out = self.bbox_head.loss_and_target(
            cls_score=results['cls_score'], bbox_pred=results['bbox_pred'], rois=rois,
            sampling_results=sampling_results, rcnn_train_cfg=self.train_cfg)
        return out['loss_bbox']

    def predict_pairs(self, x: Tuple[Tensor], pair_support_feats: Tensor,
                      batch_img_metas: List[dict], rpn_results_list: InstanceList,
                      rescale: bool = False,
                      pair_images: Optional[Tensor] = None) -> InstanceList:
        """Detections of every pair (label 0 = the pair's class); with
        ``pair_images`` (P, ), x holds one map per image and pair p's RoIs
        are pooled from map ``pair_images[p]`` (the same numbers as from a
        per-pair copy of it)."""
        proposals = [res.bboxes for res in rpn_results_list]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            return empty_instances(batch_img_metas, rois.device, task_type='bbox',
                                   box_type=self.bbox_head.predict_box_type,
                                   num_classes=self.bbox_head.num_classes)
        results = self._bbox_forward(x, rois, pair_support_feats, pair_images)
        counts = tuple(len(p) for p in proposals)
        return self.bbox_head.predict_by_feat(
            rois=rois.split(counts, 0), cls_scores=results['cls_score'].split(counts, 0),
            bbox_preds=results['bbox_pred'].split(counts, 0),
            batch_img_metas=batch_img_metas, rcnn_test_cfg=self.test_cfg, rescale=rescale)
