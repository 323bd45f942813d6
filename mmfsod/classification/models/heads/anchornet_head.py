"""AnchorNet's branch head: per-location logits, attention branch (eqs. 1-5),
losses, and the test-time decision rule (eqs. 6-8).

Per branch ``j`` (input ``(feat_j, X_j)`` from :class:`AnchorNet`):

* ``F_j = conv1x1(feat_j)``: linear per-location class logits
  ``(B, num_classes, h, w)``, no interaction between locations;
* ``S_j``: spatial attention from ``X_j`` (eqs. 1-5, :func:`attention_maps`);
* image logits ``z_j = pool(F_j * S_j)`` and ``B^j = softmax(z_j)``,
  supervised by cross-entropy;
* training only: ``fc(GAP(X_j))`` with its own cross-entropy (the auxiliary
  supervision of the attention features).

At test :func:`mmfsod.classification.lsp.decide` picks the class ``gamma``
and branch ``theta`` and the heatmap is ``M = F_theta[:, gamma]``.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ... import lsp

POOL_MODES = ('weighted_sum', 'mean')


def attention_maps(x: torch.Tensor, g_conv: nn.Module
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention branch of AnchorNet, eqs. (1)-(5).

    With ``X = x`` (``B x C x H x W``) and ``G~ = g_conv(X)`` (one channel):

    * (1) ``G_hw = softmax over all H*W positions of G~``;
    * (2) ``C~_c = sum_hw X_chw * G_hw`` (global weighted average pooling);
    * (3) ``C = softmax over the C channels of C~``;
    * (4) ``S~_hw = sum_c X_chw * C_c``;
    * (5) ``S = softmax over all H*W positions of S~``.

    Args:
        x (Tensor): ``(B, C, H, W)`` attention features ``X``.
        g_conv (nn.Module): 1x1 conv ``C -> 1``.

    Returns:
        tuple[Tensor]: ``G`` ``(B, 1, H, W)``, ``C`` ``(B, C)`` and ``S``
        ``(B, 1, H, W)``; ``G`` and ``S`` sum to 1 over positions, ``C`` over
        channels.
    """
    B, C, H, W = x.shape
    x_flat = x.flatten(2)  # (B, C, HW)
    g = g_conv(x).flatten(2).softmax(dim=-1)  # (B, 1, HW)  eq. 1
    c_tilde = (x_flat * g).sum(dim=-1)  # (B, C)  eq. 2
    c = c_tilde.softmax(dim=-1)  # (B, C)  eq. 3
    s_tilde = (x_flat * c.unsqueeze(-1)).sum(dim=1)  # (B, HW)  eq. 4
    s = s_tilde.softmax(dim=-1)  # (B, HW)  eq. 5
    return g.view(B, 1, H, W), c, s.view(B, 1, H, W)


@MODELS.register_module()
class AnchorNetHead(BaseModule):
    """Branch head of AnchorNet: logits maps x attention, losses, decision.

    Pooling (``pool``): the paper multiplies ``F_j`` by ``S_j`` and applies
    global average pooling. Because ``S_j`` is a softmax (it sums to 1 over
    the ``h*w`` positions), the literal average ``mean_hw(F_j * S_j)`` is
    ``1/(h*w)`` times the attention-weighted average and shrinks the image
    logits by ~441 at 21 x 21, which makes SGD training impractically slow.
    The default ``'weighted_sum'`` computes ``sum_hw F_j * S_j``, i.e. GAP of
    ``F_j * (h*w * S_j)``: average pooling with the attention map rescaled to
    mean 1; with a uniform ``S`` it is exactly GAP of ``F_j``. Both are the
    same up to a scale of the linear 1x1 conv. ``'mean'`` is the literal form.

    Attention at test (``test_with_attention``): the paper cuts "the
    connection [of the attention branch] to GAP and FC" at test (Fig. 2,
    "cancelled at test"); its auxiliary GAP + FC on ``X`` is always
    training-only here. By default (``False``, the paper) ``S`` is replaced by
    the uniform map ``1/(h*w)`` at test, so with ``'weighted_sum'`` the
    branch logits are the plain GAP of ``F_j``: ``z_j = mean_hw F_j``, the
    spatial mean of the per-location logits, i.e. of the heatmap
    ``M_j = F_j[:, gamma]`` that LSP reads (``'mean'``: ``mean_hw F_j / (h*w)``).
    The probabilities that decide class and branch (eqs. 6-8) are then
    ``softmax(mean_hw F_j)``, the linearity the paper relies on. ``True``
    keeps ``S`` at test (the logits the branch was trained with).

    Pooled test logits (``pooled_test_logits``): ``F_j = W_j feat_j + b_j``
    is linear, so ``pool(F_j * S) = W_j pool(feat_j * S) + b_j pool(S)``.
    With True the test-time logits are computed that way, and only the
    decided class's row of ``W_j`` gives the heatmaps: the ``K``-channel maps
    are never built (AnchorNet at 224, 1,000 classes: 92 M of its 486 M
    MACs). Equal to the default path up to float rounding; off by default,
    :func:`~mmfsod.classification.models.utils.optimize_for_inference` turns
    it on. Training always builds the maps.

    Args:
        num_classes (int): number of classes.
        in_channels (int | Sequence[int]): channels of the branch features
            (one int for all branches, or one per branch). Default 96.
        att_channels (int | Sequence[int], optional): channels of the
            attention features ``X``; None means ``in_channels``.
        branch_names (Sequence[str]): one per backbone output pair, in order.
        loss (dict): loss of each branch's image logits.
        att_loss (dict): loss of each auxiliary attention FC (training only).
        pool (str): ``'weighted_sum'`` (default) or ``'mean'``, see above.
        test_with_attention (bool): weight ``F`` by ``S`` at test; see above.
            Default False (the paper).
        pooled_test_logits (bool): test logits by linearity, without the
            ``K``-channel maps; see above. Default False.
        min_votes (int): branches that must agree for a majority class
            (eq. 7). Default 2.
        init_cfg (dict | list[dict], optional): initialization config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Union[int, Sequence[int]] = 96,
                 att_channels: Optional[Union[int, Sequence[int]]] = None,
                 branch_names: Sequence[str] = ('B63', 'B95', 'B111'),
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 att_loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 pool: str = 'weighted_sum',
                 test_with_attention: bool = False,
                 pooled_test_logits: bool = False,
                 min_votes: int = 2,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', layer=['Conv2d', 'Linear'], std=0.01, bias=0.)):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'AnchorNetHead: num_classes must be a positive int, '
                             f'got {num_classes!r}')
        if pool not in POOL_MODES:
            raise ValueError(f'AnchorNetHead: pool must be one of {POOL_MODES}, '
                             f'got {pool!r}')
        branch_names = tuple(branch_names)
        if not branch_names or len(set(branch_names)) != len(branch_names):
            raise ValueError(f'AnchorNetHead: branch_names must be non-empty and '
                             f'unique, got {branch_names!r}')
        self.num_classes = num_classes
        self.branch_names = branch_names
        self.pool = pool
        self.test_with_attention = test_with_attention
        self.pooled_test_logits = pooled_test_logits
        self.min_votes = min_votes
        in_channels = self._per_branch(in_channels, 'in_channels')
        att_channels = (in_channels if att_channels is None else
                        self._per_branch(att_channels, 'att_channels'))
        self.loss_module = loss if isinstance(loss, nn.Module) else MODELS.build(loss)
        self.att_loss_module = (att_loss if isinstance(att_loss, nn.Module) else
                                MODELS.build(att_loss))
        # F_j: linear 1x1 conv to per-location class logits
        self.logits_convs = nn.ModuleDict(
            {n: nn.Conv2d(c, num_classes, 1)
             for n, c in zip(branch_names, in_channels)})
        # eq. 1's 1x1 filter compacting X to one channel
        self.att_convs = nn.ModuleDict(
            {n: nn.Conv2d(c, 1, 1) for n, c in zip(branch_names, att_channels)})
        # training-only auxiliary classifier on GAP(X)
        self.att_fcs = nn.ModuleDict(
            {n: nn.Linear(c, num_classes) for n, c in zip(branch_names, att_channels)})

    def _per_branch(self, value, what: str) -> Tuple[int, ...]:
        if isinstance(value, int):
            return (value, ) * len(self.branch_names)
        value = tuple(value)
        if len(value) != len(self.branch_names):
            raise ValueError(f'AnchorNetHead: {what} has {len(value)} entries for '
                             f'{len(self.branch_names)} branches {self.branch_names}')
        return value

    # -- forward pieces ------------------------------------------------------
    def _unpack(self, feats, need_attention: bool
                ) -> Dict[str, Tuple[torch.Tensor, Optional[torch.Tensor]]]:
        if len(feats) != len(self.branch_names):
            raise ValueError(f'AnchorNetHead: got {len(feats)} feature pairs for '
                             f'branches {self.branch_names}')
        out = {}
        for name, pair in zip(self.branch_names, feats):
            feat, att_feat = pair
            if att_feat is None:
                if need_attention:
                    raise ValueError(
                        f'AnchorNetHead: branch {name!r} has no attention features '
                        '(the backbone skips them at test: attention_at_test=False) '
                        'but the head needs them (training, or test_with_attention='
                        'True)')
            elif feat.shape[-2:] != att_feat.shape[-2:]:
                raise ValueError(f'AnchorNetHead: branch {name!r} features '
                                 f'{tuple(feat.shape)} and attention features '
                                 f'{tuple(att_feat.shape)} differ in spatial size')
            out[name] = (feat, att_feat)
        return out

    def _pool(self, logit_map: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """(B, K, h, w) x (B, 1, h, w) -> (B, K) image logits."""
        weighted = logit_map * attention  # (B, K, h, w)
        if self.pool == 'weighted_sum':
            return weighted.sum(dim=(2, 3))
        return weighted.mean(dim=(2, 3))

    def branch_outputs(self, feats, with_attention: bool = True,
                       with_aux: bool = False, with_maps: bool = True
                       ) -> Dict[str, Dict[str, torch.Tensor]]:
        """Everything each branch computes.

        Args:
            feats: the backbone output, one ``(feat, att_feat)`` pair per branch
                (``att_feat`` may be None when neither attention nor the
                auxiliary logits are asked for).
            with_attention (bool): weight the logits maps by ``S``; otherwise
                ``S`` is the uniform map ``1/(h*w)`` (and ``G``, ``C`` are not
                computed).
            with_aux (bool): also compute the auxiliary ``att_logits``.
            with_maps (bool): build the logits maps ``F_j``; with False the
                logits come from the pooled features by linearity
                (``W_j pool(feat_j * S) + b_j pool(S)``) and there is no
                ``logit_map``.

        Returns:
            dict: branch name -> dict with ``logit_map`` ``F_j`` (B, K, h, w)
            (with ``with_maps``), ``attention`` ``S`` (B, 1, h, w), ``logits``
            (B, K) and, when computed, ``spatial_weights`` ``G`` (B, 1, h, w),
            ``channel_attention`` ``C`` (B, C) and ``att_logits`` (B, K).
        """
        outs = {}
        for name, (feat, att_feat) in self._unpack(
                feats, need_attention=with_attention or with_aux).items():
            B, _, h, w = feat.shape
            out = {}
            if with_attention:
                g, c, s = attention_maps(att_feat, self.att_convs[name])
                out.update(spatial_weights=g, channel_attention=c)
            else:
                s = feat.new_full((B, 1, h, w), 1.0 / (h * w))
            out['attention'] = s  # (B, 1, h, w)
            conv = self.logits_convs[name]
            if with_maps:
                logit_map = conv(feat)  # (B, K, h, w)
                out['logit_map'] = logit_map
                out['logits'] = self._pool(logit_map, s)  # (B, K)
            else:
                pooled = self._pool(feat, s)  # (B, C)  pool(feat * S)
                logits = pooled @ conv.weight.flatten(1).t()  # (B, K)
                if conv.bias is not None:
                    logits = logits + self._pool(torch.ones_like(s), s) * conv.bias
                out['logits'] = logits  # (B, K)
            if with_aux:
                pooled = att_feat.mean(dim=(2, 3))  # (B, C_att)
                out['att_logits'] = self.att_fcs[name](pooled)  # (B, K)
            outs[name] = out
        return outs

    def class_maps(self, feats, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Each branch's logits map of one class per image,
        ``F_j[b, labels[b]] = W_j[labels[b]] . feat_j[b] + b_j[labels[b]]``
        (the heatmaps of :meth:`predict`), without the other classes' maps.

        Args:
            feats: the backbone output.
            labels (Tensor): ``(B,)`` class per image.

        Returns:
            dict: branch name -> ``(B, h_j, w_j)``.
        """
        return {name: self.class_map(name, feat, labels)
                for name, (feat, _) in self._unpack(feats, need_attention=False).items()}

    def class_map(self, name: str, feat: torch.Tensor,
                  labels: torch.Tensor) -> torch.Tensor:
        """Branch ``name``'s logits map of one class per image, from its
        features ``feat`` ``(B, C, h, w)`` and ``labels`` ``(B,)``:
        ``(B, h, w)`` (one branch of :meth:`class_maps`)."""
        conv = self.logits_convs[name]
        weight = conv.weight.flatten(1)[labels]  # (B, C)
        m = torch.einsum('bchw,bc->bhw', feat, weight)  # (B, h, w)
        if conv.bias is not None:
            m = m + conv.bias[labels].view(-1, 1, 1)
        return m

    def _heatmaps(self, feats, outs: Dict[str, Dict[str, torch.Tensor]],
                  labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Each branch's map of the class ``labels[b]`` of image b, name ->
        ``(B, h_j, w_j)``: read off the logits maps of ``outs`` (from
        :meth:`_test_outputs`), or computed for that class alone when the
        test skipped the maps (``pooled_test_logits``)."""
        if self.pooled_test_logits:
            return self.class_maps(feats, labels)
        rows = torch.arange(labels.numel(), device=labels.device)  # (B, )
        return {n: outs[n]['logit_map'][rows, labels] for n in self.branch_names}

    def _test_outputs(self, feats):
        return self.branch_outputs(feats, with_attention=self.test_with_attention,
                                   with_maps=not self.pooled_test_logits)

    def forward(self, feats) -> Tuple[torch.Tensor, ...]:
        """Image logits ``(B, K)`` of every branch (what ``mode='tensor'``
        returns); ``S`` is used in training and, at test, when
        ``test_with_attention``."""
        if self.training:
            outs = self.branch_outputs(feats, with_attention=True)
        else:
            outs = self._test_outputs(feats)
        return tuple(outs[n]['logits'] for n in self.branch_names)

    # -- training ------------------------------------------------------------
    def loss(self, feats, data_samples: List[DataSample], **kwargs) -> dict:
        """One loss per branch (``loss_<name>``) and per auxiliary attention FC
        (``loss_att_<name>``); weights come from ``loss``/``att_loss``."""
        if 'gt_score' in data_samples[0]:
            target = torch.stack([d.gt_score for d in data_samples])  # (B, K)
        else:
            target = torch.cat([d.gt_label for d in data_samples])  # (B,)
        outs = self.branch_outputs(feats, with_attention=True, with_aux=True)
        losses = {}
        for name in self.branch_names:
            logits = outs[name]['logits']
            losses[f'loss_{name}'] = self.loss_module(
                logits, target, avg_factor=logits.size(0), **kwargs)
            att_logits = outs[name]['att_logits']
            losses[f'loss_att_{name}'] = self.att_loss_module(
                att_logits, target, avg_factor=att_logits.size(0), **kwargs)
        return losses

    # -- test ----------------------------------------------------------------
    def predict(self, feats,
                data_samples: Optional[List[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Decide class and branch per image (eqs. 6-8).

        Each returned :class:`DataSample` holds ``pred_label`` (``gamma``),
        ``pred_score`` (``B^theta``, the chosen branch's probabilities, whose
        argmax is ``gamma``) and the data fields ``branch`` (``theta``'s name),
        ``branch_scores`` (dict name -> ``(K,)`` probabilities), ``heatmap``
        (``F_theta[gamma]``, ``(h_theta, w_theta)``, the LSP input),
        ``heatmaps`` (dict name -> ``F_j[gamma]``, ``(h_j, w_j)``, every
        branch's map of the decided class, e.g. to localize with a fixed
        branch) and
        ``attention`` (``S_theta``, ``(h_theta, w_theta)``) and ``attentions``
        (dict name -> ``S_j``, ``(h_j, w_j)``, every branch's attention map
        of eq. 5, e.g. for the paper's Fig. 5; with ``test_with_attention``
        False they do not weight the logits, and they are uniform
        ``1/(h_j*w_j)`` maps when the backbone skipped the attention
        bottlenecks, ``attention_at_test=False``).
        """
        outs = self._test_outputs(feats)
        attentions = {n: outs[n]['attention'] for n in self.branch_names}
        if not self.test_with_attention:  # eq. 5's maps for the record (Fig. 5)
            for name, (_, att_feat) in self._unpack(feats, False).items():
                if att_feat is not None:
                    attentions[name] = attention_maps(att_feat,
                                                      self.att_convs[name])[2]
        probs = {n: outs[n]['logits'].softmax(dim=1).detach()
                 for n in self.branch_names}  # name -> (B, K)
        decision = lsp.decide({n: p.float().cpu().numpy() for n, p in probs.items()},
                              min_votes=self.min_votes)
        num = next(iter(probs.values())).size(0)
        labels = torch.as_tensor(decision.label, dtype=torch.long,
                                 device=probs[self.branch_names[0]].device)
        heatmaps = self._heatmaps(feats, outs, labels)  # name -> (B, h, w)
        if data_samples is None:
            data_samples = [None] * num
        results = []
        for i, data_sample in enumerate(data_samples):
            if data_sample is None:
                data_sample = DataSample()
            gamma = int(decision.label[i])
            theta = decision.branch[i]
            data_sample.set_pred_score(probs[theta][i]).set_pred_label(gamma)
            data_sample.set_field(theta, 'branch', field_type='metainfo')
            data_sample.set_field({n: probs[n][i] for n in self.branch_names},
                                  'branch_scores', dtype=dict)
            data_sample.set_field(heatmaps[theta][i].detach(), 'heatmap',
                                  dtype=torch.Tensor)
            data_sample.set_field(
                {n: heatmaps[n][i].detach() for n in self.branch_names},
                'heatmaps', dtype=dict)  # name -> (h_j, w_j)
            data_sample.set_field(attentions[theta][i, 0].detach(),
                                  'attention', dtype=torch.Tensor)
            data_sample.set_field(
                {n: attentions[n][i, 0].detach() for n in self.branch_names},
                'attentions', dtype=dict)  # name -> (h_j, w_j)
            results.append(data_sample)
        return results
