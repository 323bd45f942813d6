"""The graph of lcRPN (GCN-FSOD): support and query feature vectors as nodes.

Eq. 1 (Gaussian-kernel adjacency over the nodes V = V^S ∪ V^Q)::

    a_ij = exp( -( ‖v_i − v_j‖₂ / (‖v_i‖·‖v_j‖ + eps) ) / T )

Eq. 2 (two graph-conv layers, H^0 = V, l = 0, 1)::

    H^{l+1} = ReLU( D^{-1/2} A D^{-1/2} H^l Θ^l ),   D_ii = Σ_j a_ij

The query nodes of L = H^2, reshaped to H×W, are the lcRPN's Q_cls. The
kernel and its numerics are in :mod:`.graph_adjacency`; this module
propagates, sharing the class-independent work of pairs with one query.
The graph runs in at least float32 with autocast disabled (fp16 would
overflow ``‖v‖/eps``); the output is cast back to the input dtype.
"""
import math
from contextlib import nullcontext
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.registry import MODELS
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .graph_adjacency import (NodeStats, adjacency_block, gaussian_adjacency,
                              inv_sqrt_degree, node_stats, normalized_adjacency)

__all__ = ['gaussian_adjacency', 'normalized_adjacency', 'GraphCorrespondence']

QueryGroups = Optional[Union[Tensor, Sequence[int]]]


def _cat(parts: List[Tensor]) -> Tensor:
    """Chunks along dim 0 (one chunk, the dense path: no copy)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _same_map(a: Tensor, b: Tensor) -> bool:
    """Whether two query maps are equal (at no cost when they are one view)."""
    if a.data_ptr() == b.data_ptr() and a.stride() == b.stride() and \
            a.shape == b.shape and a.dtype == b.dtype:
        return True
    return torch.equal(a, b)


@MODELS.register_module()
class GraphCorrespondence(nn.Module):
    r"""Two graph-conv layers over support and query feature vectors (eqs. 1-2).

    For each pair p, the nodes are V = [V^S; V^Q]: the M = h·w support
    vectors, then the Nq = H·W query vectors (row-major), N = M + Nq nodes of
    C channels. A is the eq. 1 adjacency (:func:`gaussian_adjacency`), Â its
    normalisation (:func:`normalized_adjacency`), and::

        H^1 = ReLU(Â V Θ^0)            (N, hidden_channels)
        L   = ReLU(Â H^1 Θ^1)[query]   (H·W, out_channels)   -> (out_channels, H, W)

    Θ^l are ``nn.Linear`` without bias, exactly eq. 2 (the objectness conv
    that follows has its own bias); ``H Θ`` is computed before the product
    with Â (the cheaper order). The graph of each pair is separate.

    **Pairs that share a query** (``query_groups``: one query against K
    classes at meta-test, or the K ways of one query in training). Write the
    blocks of one pair's graph, class k, as::

        A_k = [[A^SS_k, A^SQ_k],      D_k = diag(d^S_k, d^Q_k),  R_k = D_k^{-1/2}
               [A^QS_k, A^QQ  ]]      d^Q_k = A^QQ 1 + A^QS_k 1,  d^S_k = A^SS_k 1 + A^SQ_k 1

    Shared by the K pairs, computed once per query (exactly class-independent):

    * the query node statistics: the centre μ = mean of the query nodes (the
      common centre of every distance, so the query-query distances do not
      depend on the class), ‖q_i − μ‖², ‖q_i‖ and the zero-vector mask;
    * the query-query block A^QQ (eq. 1 over Nq² pairs of C-vectors, the
      largest cost: Nq²·C MACs) and its row sums A^QQ 1 (the query-query
      part of every query degree);
    * the query projection X^Q = V^Q Θ^0 of layer 1.

    Per class k (O(Nq·M·C + Nq²·C_hid) each):

    * the support-query and support-support blocks A^SQ_k = (A^QS_k)^T,
      A^SS_k, the per-class degrees d^Q_k, d^S_k and R_k;
    * both propagations, because R_k scales the features on both sides of
      A^QQ and layer 2 acts on per-class features. With Y = R_k X (X = HΘ)::

          (Â_k X)^Q = R^Q_k (A^QQ Y^Q_k + A^QS_k Y^S_k)
          (Â_k X)^S = R^S_k (A^SQ_k Y^Q_k + A^SS_k Y^S_k)

      A^QQ Y^Q_k is a per-class product of the shared matrix; the K of them
      are one matrix product A^QQ [Y^Q_1 | ... | Y^Q_K] (A^QQ read once).
      Layer 2 needs only its query rows.

    The result is the same function of the inputs as the unshared graph, so
    outputs and gradients agree to float rounding. The gradient reaches the
    shared query through the group's first pair only (the query map of the
    others is not read): gradients with respect to what the pairs' maps were
    gathered from (the backbone's query map) are unchanged.

    Memory: with ``chunk_size=None`` (dense) the blocks are built whole, per
    query: A^QQ (Nq, Nq) once, A^SQ (K, M, Nq) and A^SS (K, M, M), in float32
    (Nq = 2,394, M = 400, K = 20: 23 + 77 + 13 MB). With ``chunk_size=R``
    A^QQ and A^SQ are built R query rows at a time (recomputed per pass:
    degrees, layer 1, layer 2), peak O(R·(Nq + K·M)); A^SS (K·M²) is built
    whole. When a gradient is needed each chunk runs under
    :func:`torch.utils.checkpoint.checkpoint` (non-reentrant), so backward
    keeps only the O(N·C) inputs of each chunk and recomputes its blocks:
    training memory also stays O(R·(Nq + K·M)), for about one more forward
    of compute. Both paths give the same output and gradients up to float
    rounding.

    Args:
        in_channels (int): C of the support and query features.
        hidden_channels (int): channels of H^1.
        out_channels (int): channels of the output (C' of Q_cls).
        temperature (float): T of eq. 1 (its initial value if learnable), > 0.
        learnable_temperature (bool): learn T, parameterised as ``log T`` (the
            parameter ``log_temperature``) so that it stays positive.
        eps (float): > 0, added to ‖v_i‖·‖v_j‖ in eq. 1.
        chunk_size (int, optional): query rows of the adjacency per chunk;
            ``None`` builds it densely.
    """

    def __init__(self,
                 in_channels: int,
                 hidden_channels: int,
                 out_channels: int,
                 temperature: float = 1.0,
                 learnable_temperature: bool = False,
                 eps: float = 1e-6,
                 chunk_size: Optional[int] = None) -> None:
        super().__init__()
        for name, value in (('in_channels', in_channels),
                            ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f'GraphCorrespondence: {name} must be a positive int, '
                                 f'got {value!r}')
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
                and temperature > 0):
            raise ValueError('GraphCorrespondence: temperature must be a finite '
                             f'number > 0, got {temperature!r}')
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f'GraphCorrespondence: eps must be > 0 (it keeps eq. 1 '
                             f'finite for zero vectors), got {eps!r}')
        if chunk_size is not None and (isinstance(chunk_size, bool)
                                       or not isinstance(chunk_size, int)
                                       or chunk_size <= 0):
            raise ValueError('GraphCorrespondence: chunk_size must be None (dense) or '
                             f'a positive int, got {chunk_size!r}')
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.learnable_temperature = learnable_temperature
        self.eps = float(eps)
        self.chunk_size = chunk_size
        if learnable_temperature:
            self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))
        else:
            self._temperature = float(temperature)
        self.theta0 = nn.Linear(in_channels, hidden_channels, bias=False)  # Θ^0
        self.theta1 = nn.Linear(hidden_channels, out_channels, bias=False)  # Θ^1

    @property
    def temperature(self) -> Union[float, Tensor]:
        """T of eq. 1: a float, or ``exp(log_temperature)`` if learnable."""
        if self.learnable_temperature:
            return self.log_temperature.exp()
        return self._temperature

    def extra_repr(self) -> str:
        temp = float(self.temperature)
        return (f'temperature={temp:g}, learnable_temperature='
                f'{self.learnable_temperature}, eps={self.eps:g}, '
                f'chunk_size={self.chunk_size}')

    def _check_inputs(self, support_feats: Tensor, query_feats: Tensor) -> None:
        shapes = (f'support_feats {tuple(support_feats.shape)}, query_feats '
                  f'{tuple(query_feats.shape)}')
        if support_feats.dim() != 4 or query_feats.dim() != 4:
            raise ValueError('GraphCorrespondence: expected support_feats (P, C, h, w) '
                             f'and query_feats (P, C, H, W), got {shapes}')
        if support_feats.shape[0] != query_feats.shape[0]:
            raise ValueError('GraphCorrespondence: support and query need the same '
                             f'number of pairs P, got {shapes}')
        if support_feats.shape[1] != query_feats.shape[1] or \
                support_feats.shape[1] != self.in_channels:
            raise ValueError('GraphCorrespondence: support and query need C = '
                             f'in_channels = {self.in_channels} channels, got {shapes}')
        if support_feats.shape[0] == 0:
            raise ValueError(f'GraphCorrespondence: no pairs (P = 0), got {shapes}')
        if support_feats.shape[2] * support_feats.shape[3] == 0:
            raise ValueError('GraphCorrespondence: empty support map (h·w = 0): the '
                             f'graph needs support nodes, got {shapes}')
        if query_feats.shape[2] * query_feats.shape[3] == 0:
            raise ValueError('GraphCorrespondence: empty query map (H·W = 0), got '
                             f'{shapes}')

    def _groups(self, query_feats: Tensor,
                query_groups: QueryGroups) -> List[Tuple[int, List[int]]]:
        """(first pair, pairs) of each query group; checks that marked pairs
        have equal query maps (never shares different queries)."""
        num_pairs = query_feats.shape[0]
        if query_groups is None:
            return [(p, [p]) for p in range(num_pairs)]
        ids = (query_groups.tolist() if isinstance(query_groups, Tensor)
               else list(query_groups))
        if len(ids) != num_pairs:
            raise ValueError(f'GraphCorrespondence: query_groups has {len(ids)} entries '
                             f'for {num_pairs} pairs (one group id per pair)')
        members = {}
        for pair, gid in enumerate(ids):
            members.setdefault(gid, []).append(pair)
        for gid, pairs in members.items():
            for other in pairs[1:]:
                if not _same_map(query_feats[pairs[0]], query_feats[other]):
                    raise ValueError(
                        f'GraphCorrespondence: pairs {pairs[0]} and {other} are marked '
                        f'as sharing a query (query_groups id {gid!r}) but their query '
                        'maps differ')
        return [(pairs[0], pairs) for pairs in members.values()]

    def forward(self, support_feats: Tensor, query_feats: Tensor,
                query_groups: QueryGroups = None) -> Tensor:
        """Query nodes of H^2, the local correspondence L of each pair.

        Args:
            support_feats (Tensor): (P, C, h, w) support map of each pair.
            query_feats (Tensor): (P, C, H, W) query map of each pair (e.g. an
                ``expand`` of one map: pairs of one view are checked at no cost).
            query_groups (Tensor | Sequence[int], optional): (P, ) a group id
                per pair; pairs with the same id have the same query map (an
                error otherwise), and share its class-independent graph work
                (see the class notes). ``None``: every pair its own query.

        Returns:
            Tensor: (P, out_channels, H, W), dtype of ``query_feats``.
        """
        self._check_inputs(support_feats, query_feats)
        groups = self._groups(query_feats, query_groups)
        num_pairs, _, height, width = query_feats.shape
        dtype = torch.promote_types(query_feats.dtype, torch.float32)
        device_type = query_feats.device.type
        no_autocast = (torch.autocast(device_type=device_type, enabled=False)
                       if torch.amp.is_autocast_available(device_type) else nullcontext())
        with no_autocast:  # (a device without autocast, e.g. 'meta', has none to stop)
            query_nodes = query_feats.flatten(2).transpose(1, 2)  # (P, Nq, C)
            support_nodes = support_feats.flatten(2).transpose(1, 2)  # (P, M, C)
            outs, order = [], []
            for first, pairs in groups:
                if pairs == list(range(first, first + len(pairs))):  # a view, no copy
                    support = support_nodes[first:first + len(pairs)]
                else:
                    support = support_nodes[torch.tensor(pairs, device=query_feats.device)]
                out = self._forward_group(query_nodes[first].to(dtype),
                                          support.to(dtype))  # (Nq, K, C')
                outs.append(out.permute(1, 2, 0))  # (K, C', Nq)
                order += pairs
            out = torch.cat(outs) if len(outs) > 1 else outs[0]  # (P, C', Nq), group order
            if order != list(range(num_pairs)):
                inverse = torch.argsort(torch.tensor(order, device=out.device))  # (P, )
                out = out[inverse]
        return out.reshape(num_pairs, self.out_channels, height,
                           width).to(query_feats.dtype)

    def _forward_group(self, query: Tensor, support: Tensor) -> Tensor:
        """One query (Nq, C) against K support maps (K, M, C) -> (Nq, K, C'),
        the query rows of H^2 of every class (see the class notes)."""
        num_query = query.shape[0]
        temperature, eps = self.temperature, self.eps
        q_stats = node_stats(query, query.mean(0))  # shared: (Nq, C), (Nq, ) ...
        s_stats = node_stats(support, query.mean(0))  # per class: (K, M, C), (K, M) ...
        step = num_query if self.chunk_size is None else self.chunk_size
        chunks = [(a, min(a + step, num_query)) for a in range(0, num_query, step)]
        use_ckpt = self.chunk_size is not None and torch.is_grad_enabled() and (
            query.requires_grad or support.requires_grad
            or any(p.requires_grad for p in self.parameters()))

        def blocks(q_stats: NodeStats, s_stats: NodeStats, start: int, end: int):
            rows = NodeStats(*(t[start:end] for t in q_stats))  # query rows
            a_qq = adjacency_block(rows, q_stats, temperature, eps,
                                   self_loop_offset=start)  # (R, Nq), shared
            a_sq = adjacency_block(s_stats, rows, temperature, eps)  # (K, M, R)
            return a_qq, a_sq

        a_ss = adjacency_block(s_stats, s_stats, temperature, eps,
                               self_loop_offset=0)  # (K, M, M), per class
        cache = None
        if self.chunk_size is None:  # dense: the blocks once; the node vectors are done
            cache = blocks(q_stats, s_stats, 0, num_query)
            q_stats = s_stats = None

        def run(pass_fn, start, end, *args):
            if cache is not None:
                return pass_fn(*cache, start, end, *args)

            def fn(q_stats, s_stats, *args):
                return pass_fn(*blocks(q_stats, s_stats, start, end), start, end, *args)

            if use_ckpt:
                return checkpoint(fn, q_stats, s_stats, *args, use_reentrant=False,
                                  preserve_rng_state=False)
            return fn(q_stats, s_stats, *args)

        def degrees(a_qq, a_sq, start, end):
            # query rows: A^QQ 1 (shared) + A^QS_k 1; support: this chunk's A^SQ_k 1
            return a_qq.sum(-1)[:, None] + a_sq.sum(1).T, a_sq.sum(2)  # (R, K), (K, M)

        def propagate_query(a_qq, a_sq, start, end, y_q, y_s):
            # rows of A^QQ Y^Q_k + A^QS_k Y^S_k for every k; Y^Q (Nq, K, C), Y^S (K, M, C)
            shared = (a_qq @ y_q.flatten(1)).view(end - start, *y_q.shape[1:])  # (R, K, C)
            if torch.is_grad_enabled():
                return shared + torch.bmm(a_sq.transpose(1, 2), y_s).transpose(0, 1)
            for k in range(y_s.shape[0]):  # no_grad: in place, no (R, K, C) temporary
                shared[:, k].addmm_(a_sq[k].T, y_s[k])
            return shared

        def propagate_both(a_qq, a_sq, start, end, y_q, y_s):
            # and this chunk's part of A^SQ_k Y^Q_k, (K, M, C)
            return (propagate_query(a_qq, a_sq, start, end, y_q, y_s),
                    torch.bmm(a_sq, y_q[start:end].transpose(0, 1)))

        parts = [run(degrees, start, end) for start, end in chunks]
        r_q = inv_sqrt_degree(_cat([p[0] for p in parts]))  # (Nq, K)
        r_s = inv_sqrt_degree(a_ss.sum(-1) + sum(p[1] for p in parts))  # (K, M)
        del parts
        # layer 1: X^Q = V^Q Θ^0 shared, then Y = R_k X per class
        y_q = r_q[:, :, None] * self.theta0(query)[:, None]  # (Nq, K, C_hid)
        y_s = r_s[:, :, None] * self.theta0(support)  # (K, M, C_hid)
        parts = [run(propagate_both, start, end, y_q, y_s) for start, end in chunks]
        h_s = (r_s[:, :, None] * (torch.bmm(a_ss, y_s) + sum(p[1] for p in parts))
               ).relu_()  # (K, M, C_hid)
        del y_q, y_s
        h_q = _cat([p[0] for p in parts])  # (Nq, K, C_hid)
        del parts
        h_q = (r_q[:, :, None] * h_q).relu_()  # (in place on a new tensor: autograd-safe)
        # layer 2, query rows only
        y_q = r_q[:, :, None] * self.theta1(h_q)  # (Nq, K, C')
        y_s = r_s[:, :, None] * self.theta1(h_s)  # (K, M, C')
        del h_q, h_s
        out = _cat([run(propagate_query, start, end, y_q, y_s)
                    for start, end in chunks])  # (Nq, K, C')
        del y_q, y_s
        return (r_q[:, :, None] * out).relu_()
