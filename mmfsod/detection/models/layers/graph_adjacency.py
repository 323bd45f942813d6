"""Eq. 1 of GCN-FSOD (the lcRPN's Gaussian-kernel adjacency) and eq. 2's
symmetric normalisation, as plain functions.

Eq. 1 (over the nodes V = V^S ∪ V^Q)::

    a_ij = exp( -( ‖v_i − v_j‖₂ / (‖v_i‖·‖v_j‖ + eps) ) / T )

Numerics (read this before changing the kernel):

* ``eps`` keeps eq. 1 finite when a vector is zero (common after ReLU, and in
  the zero-padded border of support patches). Two zero vectors have distance
  exactly 0 and ``a = exp(0) = 1`` (set explicitly: computed, their distance
  would be a rounding residue divided by ``eps``, i.e. anything in [0, 1]);
  a zero vector against a non-zero one has ``‖v_j‖ / eps`` in the exponent,
  i.e. ``a ≈ 0``.
* The self-loop distance is set to exactly 0, so ``a_ii = 1`` and every degree
  is ``D_ii ≥ 1``: ``D^{-1/2}`` is always finite, whatever the inputs and T.
* Square roots (of the norms and distances) are taken of values clamped to
  the dtype's smallest normal number, so their gradient at a zero vector or a
  zero distance is 0 instead of NaN.
* Distances use ``‖x‖² + ‖y‖² − 2 x·y`` (matrix products, no (N, N, C)
  tensor) on vectors centred by a common centre (distances are translation
  invariant; centring reduces the cancellation of post-ReLU features that
  share a large common component). :func:`gaussian_adjacency` centres by the
  graph's node mean, :class:`GraphCorrespondence` by the query's node mean
  (the same for every class that meets the query, so the query-query block
  can be shared). Near-duplicate non-zero vectors still get a distance of
  about ``sqrt(float eps)·‖v‖`` instead of 0.
"""
from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor

__all__ = ['NodeStats', 'node_stats', 'adjacency_block', 'gaussian_adjacency',
           'inv_sqrt_degree', 'normalized_adjacency']


class NodeStats(NamedTuple):
    """What eq. 1 needs of a set of nodes (..., n, C), O(n·C) memory."""

    centred: Tensor  # (..., n, C) vectors minus a common centre
    sq_norms: Tensor  # (..., n) squared norms of ``centred``
    norms: Tensor  # (..., n) norms ‖v_i‖ of the uncentred vectors (eq. 1)
    zero: Tensor  # (..., n) bool: the vector is exactly zero


def node_stats(nodes: Tensor, centre: Tensor) -> NodeStats:
    """:class:`NodeStats` of ``nodes`` (..., n, C) centred by ``centre``
    (broadcastable to ``nodes``, e.g. (..., 1, C) or (C, ))."""
    tiny = torch.finfo(nodes.dtype).tiny
    centred = nodes - centre  # (..., n, C)
    raw_sq = nodes.pow(2).sum(-1)  # (..., n)
    return NodeStats(centred, centred.pow(2).sum(-1),
                     raw_sq.clamp_min(tiny).sqrt(),  # 0-vector -> ~1e-19, gradient 0
                     raw_sq == 0)


def adjacency_block(rows: NodeStats, cols: NodeStats, temperature: Union[float, Tensor],
                    eps: float, self_loop_offset: Optional[int] = None) -> Tensor:
    """Eq. 1 between row nodes (..., R, C) and column nodes (..., N, C):
    (..., R, N), the leading dims broadcast (a 2-D side is shared by every
    batch of the other, in one matrix product).

    The one kernel of every path (dense, chunked, shared, unshared), so all of
    them compute the same numbers. Both sides must be centred by the same
    centre. ``self_loop_offset=o``: row r is the node of column ``o + r``
    (a diagonal block), its distance is set to 0 (``a = 1``). Without
    autograd the element-wise steps run in place (two (..., R, N) blocks
    live: the distances and the denominators).
    """
    tiny = torch.finfo(rows.centred.dtype).tiny
    inplace = not torch.is_grad_enabled()
    # ‖c_i − c_j‖² = ‖c_i‖² + ‖c_j‖² − 2 c_i·c_j
    sq_dist = torch.matmul(rows.centred, cols.centred.transpose(-1, -2))  # (..., R, N)
    # two zero vectors: distance 0. -max where both are zero (0 elsewhere, an
    # exact no-op), then the clamp to tiny: no (..., R, N) mask is built and
    # no device-to-host sync asks whether there are zero vectors at all
    zero_r = rows.zero.to(sq_dist.dtype)[..., :, None]  # (..., R, 1)
    zero_c = cols.zero.to(sq_dist.dtype)[..., None, :]  # (..., 1, N)
    huge = -torch.finfo(sq_dist.dtype).max
    if inplace:
        sq_dist.mul_(-2).add_(rows.sq_norms[..., :, None]).add_(cols.sq_norms[..., None, :])
        sq_dist.addcmul_(zero_r, zero_c, value=huge).clamp_min_(tiny)
    else:
        sq_dist = (sq_dist * -2 + rows.sq_norms[..., :, None] + cols.sq_norms[..., None, :]
                   ).addcmul(zero_r, zero_c, value=huge).clamp_min(tiny)
    if self_loop_offset is not None:  # self-loops: distance 0, a_ii = 1
        idx = torch.arange(sq_dist.shape[-2], device=sq_dist.device)
        sq_dist[..., idx, self_loop_offset + idx] = tiny
    # zero distances give sqrt(tiny) ~ 1e-19 and, being clamped, gradient 0
    dist = sq_dist.sqrt_() if inplace else sq_dist.sqrt()  # (..., R, N)
    denom = rows.norms[..., :, None] * cols.norms[..., None, :]  # (..., R, N)
    if inplace:
        return dist.div_(denom.add_(eps)).mul_(-1 / temperature).exp_()  # eq. 1
    return torch.exp(dist / (denom + eps) * (-1 / temperature))  # eq. 1


def gaussian_adjacency(nodes: Tensor, temperature: Union[float, Tensor] = 1.0,
                       eps: float = 1e-6) -> Tensor:
    """The adjacency of eq. 1, a_ij = exp(-(‖v_i − v_j‖₂ / (‖v_i‖·‖v_j‖ + eps)) / T).

    Finite for any finite input: a zero vector has ``a = 1`` with itself and
    every other zero vector, ``a ≈ 0`` with non-zero vectors; the diagonal is
    exactly 1, so every row sum (degree) is ≥ 1 (see the module notes).

    Args:
        nodes (Tensor): (P, N, C) node vectors of P independent graphs.
        temperature (float | Tensor): T > 0 (a scalar tensor may carry a
            gradient).
        eps (float): > 0, added to ‖v_i‖·‖v_j‖.

    Returns:
        Tensor: (P, N, N) symmetric adjacency with entries in (0, 1].
    """
    if nodes.dim() != 3:
        raise ValueError(f'gaussian_adjacency: nodes must be (P, N, C), got shape '
                         f'{tuple(nodes.shape)}')
    stats = node_stats(nodes, nodes.mean(dim=1, keepdim=True))
    return adjacency_block(stats, stats, temperature, eps, self_loop_offset=0)


def inv_sqrt_degree(degree: Tensor) -> Tensor:
    """D^{-1/2} of row sums; 0 for a node of degree 0 (an isolated node)."""
    return torch.where(degree > 0, degree.clamp_min(torch.finfo(degree.dtype).tiny)
                       .rsqrt(), torch.zeros_like(degree))


def normalized_adjacency(adjacency: Tensor) -> Tensor:
    """The symmetric normalisation of eq. 2, D^{-1/2} A D^{-1/2}, D_ii = Σ_j a_ij.

    A row of degree 0 (never the case for :func:`gaussian_adjacency`, whose
    degrees are ≥ 1) gives a zero row and column instead of inf.

    Args:
        adjacency (Tensor): (P, N, N) non-negative adjacency.

    Returns:
        Tensor: (P, N, N) normalised adjacency Â.
    """
    if adjacency.dim() != 3 or adjacency.shape[1] != adjacency.shape[2]:
        raise ValueError(f'normalized_adjacency: adjacency must be (P, N, N), got '
                         f'shape {tuple(adjacency.shape)}')
    d_inv_sqrt = inv_sqrt_degree(adjacency.sum(-1))  # (P, N)
    return d_inv_sqrt[:, :, None] * adjacency * d_inv_sqrt[:, None, :]
