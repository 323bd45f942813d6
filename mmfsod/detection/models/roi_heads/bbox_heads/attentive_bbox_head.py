"""Attentive detection head of GCN-FSOD (second stage, paper section 3.2)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from torch import Tensor

REG_TYPES = ('attentive', 'stacked')
LOCAL_POOLS = ('mean', 'sum')


@MODELS.register_module()
class AttentiveBBoxHead(BBoxHead):
    r"""Binary box head of a query-support pair: dual-level classification
    (global + local matching) and category-attentive box regression.

    For the RoI features of a support instance :math:`s^{roi}` and of a query
    proposal :math:`q_i^{roi}` (both C x S x S, e.g. after a res5 shared head),
    the paper (GCN-FSOD, section 3.2 and Table 3) defines:

    - global matching ``C_g``: :math:`q_i^g = [\mathrm{GAP}(s^{roi}),
      \mathrm{GAP}(q_i^{roi})]` (2C; support first, as in the paper's
      "(s^roi, q_i^roi)");
    - local matching ``C_l``: :math:`q_i^l = \sum_{x,y} (s^{roi} \odot
      q_i^{roi})_{:,x,y}` (C), the spatially summed point-wise product
      (``local_pool='sum'``); by default divided by S x S (``'mean'``, see
      below);
    - "we embed q_i^g and q_i^l into another space and perform
      classifications" -- the binary decision "same category or not";
    - category-attentive regression ``R_c``: :math:`\mathrm{GAP}(s^{roi})`
      is the class-attentive vector, slid "as the kernel" over
      :math:`q_i^{roi}` (depthwise), then "several convolutions and mean
      pooling layers" regress the box;
    - ablation ``R_s``: regression from the stacked features
      :math:`[s^{roi}, q_i^{roi}]` (2C x S x S) instead.

    Layering chosen here (the paper gives no sizes; every size is an argument):

    - each enabled matching vector is embedded by its own ``Linear + ReLU``
      to ``embed_channels`` (``global_embed``: 2C -> E, ``local_embed``:
      C -> E); the embeddings are concatenated (E or 2E) and one ``Linear``
      (``fc_cls``) gives the ``num_classes + 1 = 2`` logits. Because
      ``fc_cls`` is linear this is exactly "each branch classifies and the
      logits are summed" (``W [e_g; e_l] + b = W_g e_g + W_l e_l + b``), i.e.
      the paper's plural "classifications" with one shared bias; both
      branches are trained together through the single cross-entropy of
      :class:`BBoxHead` (no per-branch loss).
    - regression: a 1 x 1 pooled vector used as a depthwise kernel is a
      per-channel scale, so the depthwise "sliding" is computed as
      :math:`q_i^{roi} \cdot \mathrm{GAP}(s^{roi})` broadcast over x, y
      (identical to ``F.conv2d(q, GAP(s).view(C, 1, 1, 1), groups=C)``);
      then ``reg_convs`` 3 x 3 convolutions (padding 1) each followed by a
      ReLU, mean pooling over S x S, and one ``Linear`` (``fc_reg``) to the
      4 class-agnostic deltas. ``R_s`` uses the same layers on the stacked
      2C-channel input.

    Labels follow :class:`BBoxHead`: ``num_classes == 1``, label 0 = "the
    support's class" and label 1 (= ``num_classes``) = background, softmax
    over the 2 logits; regression is class agnostic. Targets, losses and
    post-processing are :class:`BBoxHead`'s unchanged (``get_targets``,
    ``loss_and_target``, ``predict_by_feat``); only the layers and
    :meth:`forward` differ. Unlike :class:`BBoxHead`, the head takes the pair
    of RoI features: the RoI head calls
    ``bbox_head(query_roi_feats, support_roi_feats)`` (see
    :class:`AttentiveRoIHead`), not ``bbox_head(bbox_feats)``.

    Args:
        in_channels (int): C, channels of the RoI features (2048 after a res5
            shared head).
        roi_feat_size (int): S, spatial size of the RoI features; inputs of
            another size are rejected.
        num_classes (int): must be 1 (binary pair head).
        with_global (bool): use global matching ``C_g``. Defaults to True.
        with_local (bool): use local matching ``C_l``. Defaults to True.
        local_pool (str): ``'mean'`` (default) or ``'sum'`` (the paper's
            literal "summed") over the S x S positions of ``s ⊙ q``. The two
            differ by the constant S², which ``local_embed`` can absorb, but
            the sum makes q_l ~S² times larger than the global vectors: with
            S = 7 a freshly initialised head gave RoI logits of ~10 and SGD
            diverged on a fixed batch without warm-up, while the mean keeps
            both matching inputs on one scale.
            At least one of ``with_global`` / ``with_local`` must be True.
        reg_type (str): ``'attentive'`` (``R_c``, default) or ``'stacked'``
            (``R_s``).
        embed_channels (int): E, width of each matching embedding. Defaults
            to 1024 (project default; the paper gives no size).
        reg_convs (Sequence[int]): output channels of the 3 x 3 convolutions
            of the regression branch, one entry per conv; ``()`` regresses
            straight from the mean-pooled attentive (or stacked) feature.
            Defaults to ``(256, 256)`` (project default; the paper says
            "several convolutions").
        reg_class_agnostic (bool): must be True (one box per RoI).
        bbox_coder, predict_box_type, reg_decoded_bbox, reg_predictor_cfg,
        cls_predictor_cfg, loss_cls, loss_bbox: as :class:`BBoxHead`.
        init_cfg (dict | list[dict], optional): None gives Xavier-uniform
            embeddings, Kaiming convs, and :class:`BBoxHead`'s Normal(0.01)
            ``fc_cls`` and Normal(0.001) ``fc_reg``.
    """

    def __init__(self,
                 in_channels: int,
                 roi_feat_size: int = 7,
                 num_classes: int = 1,
                 with_global: bool = True,
                 with_local: bool = True,
                 local_pool: str = 'mean',
                 reg_type: str = 'attentive',
                 embed_channels: int = 1024,
                 reg_convs: Sequence[int] = (256, 256),
                 reg_class_agnostic: bool = True,
                 bbox_coder: ConfigType = dict(
                     type='DeltaXYWHBBoxCoder',
                     clip_border=True,
                     target_means=[0., 0., 0., 0.],
                     target_stds=[0.1, 0.1, 0.2, 0.2]),
                 predict_box_type: str = 'hbox',
                 reg_decoded_bbox: bool = False,
                 reg_predictor_cfg: ConfigType = dict(type='Linear'),
                 cls_predictor_cfg: ConfigType = dict(type='Linear'),
                 loss_cls: ConfigType = dict(
                     type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 loss_bbox: ConfigType = dict(
                     type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
                 init_cfg: OptMultiConfig = None) -> None:
        name = type(self).__name__
        if num_classes != 1:
            raise ValueError(f'{name} is a binary pair head: num_classes must be 1 '
                             '(0 = the support class, 1 = background), '
                             f'got {num_classes}')
        if not reg_class_agnostic:
            raise ValueError(f'{name} regresses one class-agnostic box per RoI: '
                             'reg_class_agnostic must be True')
        if reg_type not in REG_TYPES:
            raise ValueError(f'{name}: unknown reg_type={reg_type!r}; choose from '
                             f'{list(REG_TYPES)} (R_c / R_s of the paper)')
        if local_pool not in LOCAL_POOLS:
            raise ValueError(f'{name}: unknown local_pool={local_pool!r}; choose from '
                             f'{list(LOCAL_POOLS)}')
        if not (with_global or with_local):
            raise ValueError(f'{name}: with_global and with_local are both False; '
                             'the classifier needs at least one matching branch')
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f'{name}: in_channels must be a positive int, '
                             f'got {in_channels!r}')
        if not isinstance(embed_channels, int) or embed_channels <= 0:
            raise ValueError(f'{name}: embed_channels must be a positive int, '
                             f'got {embed_channels!r}')
        if (isinstance(reg_convs, (str, int)) or not isinstance(reg_convs, Sequence)
                or not all(isinstance(c, int) and c > 0 for c in reg_convs)):
            raise ValueError(f'{name}: reg_convs must be a sequence of positive ints '
                             f'(output channels of each 3x3 conv), got {reg_convs!r}')
        super().__init__(
            with_avg_pool=True,  # no flattened S*S*C predictor is built
            roi_feat_size=roi_feat_size,
            in_channels=in_channels,
            num_classes=num_classes,
            bbox_coder=bbox_coder,
            predict_box_type=predict_box_type,
            reg_class_agnostic=True,
            reg_decoded_bbox=reg_decoded_bbox,
            reg_predictor_cfg=reg_predictor_cfg,
            cls_predictor_cfg=cls_predictor_cfg,
            loss_cls=loss_cls,
            loss_bbox=loss_bbox,
            init_cfg=init_cfg)
        del self.avg_pool  # BBoxHead's; pooling is done in forward
        self.with_global = with_global
        self.with_local = with_local
        self.local_pool = local_pool
        self.reg_type = reg_type
        self.embed_channels = embed_channels
        self.reg_conv_channels = tuple(reg_convs)

        # dual-level classification
        cls_in = 0
        if with_global:
            self.global_embed = nn.Linear(2 * in_channels, embed_channels)  # 2C -> E
            cls_in += embed_channels
        if with_local:
            self.local_embed = nn.Linear(in_channels, embed_channels)  # C -> E
            cls_in += embed_channels
        if self.custom_cls_channels:
            cls_channels = self.loss_cls.get_cls_channels(self.num_classes)
        else:
            cls_channels = self.num_classes + 1
        cls_cfg = self.cls_predictor_cfg.copy()
        cls_cfg.update(in_features=cls_in, out_features=cls_channels)
        self.fc_cls = MODELS.build(cls_cfg)  # replaces BBoxHead's (C -> 2)

        # regression: R_c on C channels, R_s on the stacked 2C channels
        channels = in_channels if reg_type == 'attentive' else 2 * in_channels
        convs: List[nn.Module] = []
        for out_channels in self.reg_conv_channels:
            convs.append(nn.Conv2d(channels, out_channels, 3, padding=1))
            channels = out_channels
        self.reg_convs = nn.ModuleList(convs)
        reg_cfg = self.reg_predictor_cfg.copy()
        reg_cfg.update(in_features=channels, out_features=self.bbox_coder.encode_size)
        self.fc_reg = MODELS.build(reg_cfg)  # replaces BBoxHead's (C -> 4)

        if init_cfg is None:
            self.init_cfg = [
                dict(type='Xavier', layer='Linear', distribution='uniform'),
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Normal', std=0.01, override=dict(name='fc_cls')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
            ]

    def _check_inputs(self, query_roi_feats: Tensor,
                      support_roi_feats: Tensor) -> Tensor:
        """Validate shapes; return the support features broadcast to (M, ...)."""
        name = type(self).__name__
        expected = (self.in_channels, *self.roi_feat_size)
        for arg, feats in (('query_roi_feats', query_roi_feats),
                           ('support_roi_feats', support_roi_feats)):
            if feats.dim() != 4 or tuple(feats.shape[1:]) != expected:
                raise ValueError(f'{name}: {arg} must be (N, {expected[0]}, '
                                 f'{expected[1]}, {expected[2]}) (in_channels, '
                                 f'roi_feat_size), got {tuple(feats.shape)}')
        num_rois, num_support = query_roi_feats.size(0), support_roi_feats.size(0)
        if num_support == num_rois:
            return support_roi_feats
        if num_support == 1:
            return support_roi_feats.expand(num_rois, -1, -1, -1)
        raise ValueError(f'{name}: support_roi_feats has {num_support} rows for '
                         f'{num_rois} query RoIs; give one row per query RoI or a '
                         'single row to broadcast')

    def forward(self, query_roi_feats: Tensor,
                support_roi_feats: Tensor) -> Tuple[Tensor, Tensor]:
        """Classify and regress every query RoI against its support RoI.

        Args:
            query_roi_feats (Tensor): (M, C, S, S) RoI features of the query
                proposals.
            support_roi_feats (Tensor): (M, C, S, S), row m the pooled support
                RoI feature paired with query RoI m (the caller indexes the
                pair's support); or (1, C, S, S), broadcast to all M RoIs.

        Returns:
            tuple[Tensor, Tensor]: ``cls_score`` (M, num_classes + 1) = (M, 2)
            logits (column 0 = the support's class, 1 = background) and
            ``bbox_pred`` (M, 4) class-agnostic deltas of ``bbox_coder``.
        """
        q = query_roi_feats  # (M, C, S, S)
        s = self._check_inputs(query_roi_feats, support_roi_feats)  # (M, C, S, S)
        s_vec = s.mean(dim=(2, 3))  # (M, C) class-attentive vector GAP(s^roi)

        embeds = []
        if self.with_global:
            q_g = torch.cat([s_vec, q.mean(dim=(2, 3))], dim=1)  # (M, 2C) q_i^g
            embeds.append(F.relu(self.global_embed(q_g)))  # (M, E)
        if self.with_local:
            q_l = (s * q).sum(dim=(2, 3))  # (M, C) q_i^l
            if self.local_pool == 'mean':
                q_l = q_l / (q.shape[2] * q.shape[3])
            embeds.append(F.relu(self.local_embed(q_l)))  # (M, E)
        cls_score = self.fc_cls(torch.cat(embeds, dim=1))  # (M, 2)

        if self.reg_type == 'attentive':
            # 1x1 depthwise kernel GAP(s^roi) over q^roi == channel-wise scaling
            x = q * s_vec[:, :, None, None]  # (M, C, S, S)
        else:
            x = torch.cat([s, q], dim=1)  # (M, 2C, S, S)
        for conv in self.reg_convs:
            x = F.relu(conv(x))  # (M, C_k, S, S)
        bbox_pred = self.fc_reg(x.mean(dim=(2, 3)))  # (M, 4)
        return cls_score, bbox_pred

    def extra_repr(self) -> str:
        return (f'with_global={self.with_global}, with_local={self.with_local}, '
                f'local_pool={self.local_pool!r}, '
                f'reg_type={self.reg_type!r}')
