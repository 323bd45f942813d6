"""The local-correspondence RPN (lcRPN) of GCN-FSOD, and its ablations."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor, nn

RPN_TYPES = ('lcrpn', 'lcrpn_coupled', 'global_kernel')
QueryGroups = Optional[Union[Tensor, Sequence[int]]]


@MODELS.register_module()
class LocalCorrespondenceRPNHead(RPNHead):
    """Region proposals of a query image for one support class.

    Every input row is a *pair*: a query feature map (P, C, H, W) and the
    support feature map of one class (P, C, h, w) (the mean of its K shots).
    Objectness says "an object of the support's class is here"; a negative
    pair (class absent from the query) has only background targets. Pairs
    with one query (its classes at meta-test, its ways in training) are
    marked by ``query_groups``; the graph then does the class-independent
    work once per query (:class:`GraphCorrespondence`), with the same result.

    ``rpn_type`` selects the rows of the paper's Table 2:

    * ``'lcrpn'`` (the paper's lcRPN, decoupled): objectness from the query
      nodes of a 2-layer GCN over support and query feature vectors (eqs.
      1-2, :class:`GraphCorrespondence`); box deltas from the query map
      multiplied channel-wise by the support's global-average vector
      s_f = GAP(S_f), then a 3x3 conv (the class-attentive branch).
    * ``'lcrpn_coupled'`` (lcRPN without decoupling): objectness and deltas
      both from the GCN's query nodes.
    * ``'global_kernel'`` (Attention-RPN): the pooled support vector as a
      depthwise (1x1) kernel over the query map, one shared 3x3 conv branch
      for objectness and deltas.

    Args:
        in_channels (int): C of the backbone features.
        feat_channels (int): channels of the branch features (C').
        rpn_type (str): one of :data:`RPN_TYPES`.
        graph (dict): config of the graph module (``in_channels`` and
            ``out_channels`` are filled in); used by the lcRPN types.
        **kwargs: as :class:`mmdet.models.dense_heads.RPNHead`
            (anchor_generator, bbox_coder, losses, train_cfg, test_cfg).
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: int = 256,
                 rpn_type: str = 'lcrpn',
                 graph: Optional[ConfigType] = None,
                 **kwargs) -> None:
        if rpn_type not in RPN_TYPES:
            raise ValueError(f'LocalCorrespondenceRPNHead: unknown rpn_type {rpn_type!r}; '
                             f'choose one of {list(RPN_TYPES)}')
        self.rpn_type = rpn_type
        self.graph_cfg = dict(type='GraphCorrespondence', hidden_channels=feat_channels)
        self.graph_cfg.update(graph or {})
        super().__init__(in_channels=in_channels, feat_channels=feat_channels,
                         num_convs=1, **kwargs)

    def _init_layers(self) -> None:
        reg_dim = self.bbox_coder.encode_size
        num_anchors = self.num_base_priors
        if self.rpn_type == 'global_kernel':
            self.rpn_conv = nn.Conv2d(self.in_channels, self.feat_channels, 3, padding=1)
        else:
            self.graph = MODELS.build(dict(self.graph_cfg, in_channels=self.in_channels,
                                           out_channels=self.feat_channels))
        if self.rpn_type == 'lcrpn':
            self.reg_conv = nn.Conv2d(self.in_channels, self.feat_channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(self.feat_channels, num_anchors * self.cls_out_channels, 1)
        self.rpn_reg = nn.Conv2d(self.feat_channels, num_anchors * reg_dim, 1)

    def forward(self, query_feats: Tensor, support_feats: Tensor,
                query_groups: QueryGroups = None) -> Tuple[List[Tensor], List[Tensor]]:
        """Objectness and deltas of every pair.

        Args:
            query_feats (Tensor): (P, C, H, W) query map of each pair.
            support_feats (Tensor): (P, C, h, w) support map of each pair.
            query_groups (Tensor | Sequence[int], optional): (P, ) group id
                of each pair's query: pairs of one id have the same query map
                (checked) and share the graph's query work. ``None``: no
                sharing.

        Returns:
            tuple: ``([cls (P, A, H, W)], [deltas (P, 4A, H, W)])``, one
            feature level as mmdet's anchor heads expect.
        """
        if query_feats.dim() != 4 or support_feats.dim() != 4:
            raise ValueError('LocalCorrespondenceRPNHead: expected (P, C, H, W) query and '
                             f'(P, C, h, w) support maps, got {tuple(query_feats.shape)} '
                             f'and {tuple(support_feats.shape)}')
        if query_feats.shape[:2] != support_feats.shape[:2]:
            raise ValueError('LocalCorrespondenceRPNHead: query and support maps must '
                             'agree in pairs and channels, got '
                             f'{tuple(query_feats.shape)} and {tuple(support_feats.shape)}')
        s_vec = support_feats.mean(dim=(2, 3), keepdim=True)  # (P, C, 1, 1) = GAP(S_f)
        if self.rpn_type == 'global_kernel':
            # depthwise correlation with a 1x1 pooled kernel = channel-wise product
            x = F.relu(self.rpn_conv(query_feats * s_vec))  # (P, C', H, W)
            return [self.rpn_cls(x)], [self.rpn_reg(x)]
        q_cls = self.graph(support_feats, query_feats, query_groups)  # (P, C', H, W), eqs. 1-2
        cls_score = self.rpn_cls(q_cls)  # (P, A, H, W)
        if self.rpn_type == 'lcrpn_coupled':
            return [cls_score], [self.rpn_reg(q_cls)]
        q_reg = F.relu(self.reg_conv(query_feats * s_vec))  # (P, C', H, W): Q_f ⊙ s_f
        return [cls_score], [self.rpn_reg(q_reg)]  # (P, 4A, H, W)

    @staticmethod
    def _targets(pair_samples: SampleList):
        gts, metas, ignores = [], [], []
        for sample in pair_samples:
            gt = sample.gt_instances
            gt.labels = torch.zeros_like(gt.labels)  # class-agnostic objectness
            gts.append(gt)
            metas.append(sample.metainfo)
            ignores.append(sample.get('ignored_instances', None))
        return gts, metas, ignores

    def loss_and_predict(self, query_feats: Tensor, support_feats: Tensor,
                         pair_samples: SampleList,
                         proposal_cfg: Optional[ConfigType] = None,
                         query_groups: QueryGroups = None) -> Tuple[dict, InstanceList]:
        """RPN losses of the pairs and their proposals (for the RoI head)."""
        cls_scores, bbox_preds = self(query_feats, support_feats, query_groups)
        gts, metas, ignores = self._targets(pair_samples)
        losses = self.loss_by_feat(cls_scores, bbox_preds, gts, metas, ignores)
        proposals = self.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=metas,
                                         cfg=proposal_cfg, rescale=False)
        return losses, proposals

    def predict_pairs(self, query_feats: Tensor, support_feats: Tensor,
                      batch_img_metas: List[dict],
                      query_groups: QueryGroups = None) -> InstanceList:
        """Proposals of every pair (in the network input's pixels)."""
        cls_scores, bbox_preds = self(query_feats, support_feats, query_groups)
        return self.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=batch_img_metas,
                                    rescale=False)
