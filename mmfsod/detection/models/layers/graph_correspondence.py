"""The graph of lcRPN (GCN-FSOD): support and query feature vectors as nodes.

Eq. 1 (Gaussian-kernel adjacency over the nodes V = V^S ∪ V^Q)::

    a_ij = exp( -( ‖v_i − v_j‖₂ / (‖v_i‖·‖v_j‖ + eps) ) / T )

Eq. 2 (two graph-conv layers, H^0 = V, l = 0, 1)::

    H^{l+1} = ReLU( D^{-1/2} A D^{-1/2} H^l Θ^l ),   D_ii = Σ_j a_ij

The query nodes of L = H^2, reshaped to H×W, are the lcRPN's Q_cls.

Numerics (read this before changing the kernel):

* ``eps`` keeps eq. 1 finite when a vector is zero (common after ReLU, and in
  the zero-padded border of support patches): two zero vectors have distance
  0 and ``a = exp(0) = 1``; a zero vector against a non-zero one has
  ``‖v_j‖ / eps`` in the exponent, i.e. ``a ≈ 0``.
* The self-loop distance is set to exactly 0, so ``a_ii = 1`` and every degree
  is ``D_ii ≥ 1``: ``D^{-1/2}`` is always finite, whatever the inputs and T.
* Square roots (of the norms and distances) are taken of values clamped to
  the dtype's smallest normal number, so their gradient at a zero vector or a
  zero distance is 0 instead of NaN.
* Distances use ``‖x‖² + ‖y‖² − 2 x·y`` (matrix products, no (N, N, C)
  tensor) on vectors centred by the pair's node mean (distances are
  translation invariant; centring reduces the cancellation of post-ReLU
  features that share a large common component). Near-duplicate vectors
  still get a distance of about ``sqrt(float eps)·‖v‖`` instead of 0.
* The graph runs in at least float32 with autocast disabled (fp16 would
  overflow ``‖v‖/eps``); the output is cast back to the input dtype.
"""
import math
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

__all__ = ['gaussian_adjacency', 'normalized_adjacency', 'GraphCorrespondence']


def _node_stats(nodes: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """What eq. 1 needs of every node, in O(N·C) memory.

    Args:
        nodes (Tensor): (P, N, C) node vectors of each pair.

    Returns:
        tuple[Tensor]: ``centred`` (P, N, C) vectors minus the pair's node
        mean, ``sq_norms`` (P, N) their squared norms, and ``norms`` (P, N)
        the norms ‖v_i‖ of the *uncentred* vectors (eq. 1's denominator).
    """
    tiny = torch.finfo(nodes.dtype).tiny
    centred = nodes - nodes.mean(dim=1, keepdim=True)  # (P, N, C)
    sq_norms = centred.pow(2).sum(-1)  # (P, N)
    norms = nodes.pow(2).sum(-1).clamp_min(tiny).sqrt()  # (P, N); 0-vector -> ~1e-19
    return centred, sq_norms, norms


def _adjacency_rows(centred: Tensor, sq_norms: Tensor, norms: Tensor, start: int,
                    end: int, temperature: Union[float, Tensor], eps: float) -> Tensor:
    """Rows ``start:end`` of the eq. 1 adjacency, (P, end - start, N).

    The shared kernel of the dense and the chunked paths (so both compute the
    same numbers); arguments as returned by :func:`_node_stats`. Without
    autograd the element-wise steps run in place (two (R, N) blocks live).
    """
    tiny = torch.finfo(centred.dtype).tiny
    inplace = not torch.is_grad_enabled()
    num_pairs, num_nodes = sq_norms.shape
    rows = torch.arange(end - start, device=centred.device)
    # ‖c_i − c_j‖² = ‖c_i‖² + ‖c_j‖² − 2 c_i·c_j
    sq_dist = torch.baddbmm(
        sq_norms[:, None, :].expand(num_pairs, end - start, num_nodes),
        centred[:, start:end], centred.transpose(1, 2), alpha=-2)  # (P, R, N)
    sq_dist.add_(sq_norms[:, start:end, None])  # (baddbmm's backward keeps no output)
    sq_dist = sq_dist.clamp_min_(tiny) if inplace else sq_dist.clamp_min(tiny)
    sq_dist[:, rows, start + rows] = tiny  # self-loops: distance 0, a_ii = 1
    # zero distances give sqrt(tiny) ~ 1e-19 and, being clamped, gradient 0
    dist = sq_dist.sqrt_() if inplace else sq_dist.sqrt()  # (P, R, N)
    denom = torch.bmm(norms[:, start:end, None], norms[:, None, :]).add_(eps)
    if inplace:
        return dist.div_(denom).mul_(-1 / temperature).exp_()  # (P, R, N), eq. 1
    return torch.exp(dist / denom * (-1 / temperature))  # (P, R, N), eq. 1


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
    centred, sq_norms, norms = _node_stats(nodes)
    return _adjacency_rows(centred, sq_norms, norms, 0, nodes.shape[1], temperature,
                           eps)


def _inv_sqrt_degree(degree: Tensor) -> Tensor:
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
    d_inv_sqrt = _inv_sqrt_degree(adjacency.sum(-1))  # (P, N)
    return d_inv_sqrt[:, :, None] * adjacency * d_inv_sqrt[:, None, :]


@MODELS.register_module()
class GraphCorrespondence(nn.Module):
    """Two graph-conv layers over support and query feature vectors (eqs. 1-2).

    For each pair p, the nodes are V = [V^S; V^Q]: the h·w support vectors,
    then the H·W query vectors (row-major), N = h·w + H·W nodes of C
    channels. A is the eq. 1 adjacency (:func:`gaussian_adjacency`), Â its
    normalisation (:func:`normalized_adjacency`), and::

        H^1 = ReLU(Â V Θ^0)            (N, hidden_channels)
        L   = ReLU(Â H^1 Θ^1)[query]   (H·W, out_channels)   -> (out_channels, H, W)

    Θ^l are ``nn.Linear`` without bias, exactly eq. 2 (the objectness conv
    that follows has its own bias); ``H Θ`` is computed before the product
    with Â (the cheaper order). The graph of each pair is separate; the P
    pairs are batched.

    Memory: the dense path (``chunk_size=None``) holds a few (P, N, N)
    tensors (N = 2,900 nodes: 34 MB each per pair in float32). With
    ``chunk_size=R`` the N×N matrix is never built: the degrees, then Â X,
    are computed R rows at a time from the node vectors (A recomputed per
    pass: 3 passes, the last over the query rows only), peak O(P·R·N). When
    a gradient is needed each chunk runs under
    :func:`torch.utils.checkpoint.checkpoint` (non-reentrant), so backward
    keeps only the O(N·C) inputs of each chunk and recomputes its (R, N) block:
    training memory also stays O(P·R·N), for about one more forward of compute.
    Both paths give the same output and gradients up to float rounding.

    Args:
        in_channels (int): C of the support and query features.
        hidden_channels (int): channels of H^1.
        out_channels (int): channels of the output (C' of Q_cls).
        temperature (float): T of eq. 1 (its initial value if learnable), > 0.
        learnable_temperature (bool): learn T, parameterised as ``log T`` (the
            parameter ``log_temperature``) so that it stays positive.
        eps (float): > 0, added to ‖v_i‖·‖v_j‖ in eq. 1.
        chunk_size (int, optional): rows of the adjacency per chunk; ``None``
            builds it densely.
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

    def forward(self, support_feats: Tensor, query_feats: Tensor) -> Tensor:
        """Query nodes of H^2, the local correspondence L of each pair.

        Args:
            support_feats (Tensor): (P, C, h, w) support map of each pair.
            query_feats (Tensor): (P, C, H, W) query map of each pair.

        Returns:
            Tensor: (P, out_channels, H, W), dtype of ``query_feats``.
        """
        self._check_inputs(support_feats, query_feats)
        num_pairs, _, height, width = query_feats.shape
        num_support = support_feats.shape[2] * support_feats.shape[3]
        dtype = torch.promote_types(query_feats.dtype, torch.float32)
        with torch.autocast(device_type=query_feats.device.type, enabled=False):
            nodes = torch.cat([support_feats.flatten(2), query_feats.flatten(2)],
                              dim=2).transpose(1, 2).to(dtype)  # (P, N, C)
            if self.chunk_size is None:
                out = self._forward_dense(nodes, num_support)
            else:
                out = self._forward_chunked(nodes, num_support)  # (P, H·W, C')
        return out.transpose(1, 2).reshape(num_pairs, self.out_channels, height,
                                           width).to(query_feats.dtype)

    def _forward_dense(self, nodes: Tensor, num_support: int) -> Tensor:
        """(P, N, C) nodes -> (P, H·W, C') query rows of H^2, Â built densely."""
        adj = normalized_adjacency(
            gaussian_adjacency(nodes, self.temperature, self.eps))  # (P, N, N)
        hidden = F.relu(torch.bmm(adj, self.theta0(nodes)))  # (P, N, C_hid)
        return F.relu(torch.bmm(adj[:, num_support:], self.theta1(hidden)))

    def _forward_chunked(self, nodes: Tensor, num_support: int) -> Tensor:
        """As :meth:`_forward_dense`, ``chunk_size`` rows of A at a time."""
        num_nodes = nodes.shape[1]
        temperature, eps, step = self.temperature, self.eps, self.chunk_size
        stats = _node_stats(nodes)  # centred (P, N, C), sq_norms, norms (P, N)
        use_ckpt = torch.is_grad_enabled() and (
            nodes.requires_grad or any(p.requires_grad for p in self.parameters()))

        def run(fn, *args):
            if use_ckpt:
                return checkpoint(fn, *args, use_reentrant=False,
                                  preserve_rng_state=False)
            return fn(*args)

        def degree_rows(centred, sq_norms, norms, start, end):
            adj = _adjacency_rows(centred, sq_norms, norms, start, end, temperature,
                                  eps)  # (P, R, N)
            return adj.sum(-1)  # (P, R)

        def propagate_rows(centred, sq_norms, norms, d_inv_sqrt, scaled, start, end):
            adj = _adjacency_rows(centred, sq_norms, norms, start, end, temperature,
                                  eps)  # (P, R, N)
            # rows of D^-1/2 A D^-1/2 X = D^-1/2 (A (D^-1/2 X))
            return d_inv_sqrt[:, start:end, None] * torch.bmm(adj, scaled)  # (P, R, C)

        def propagate(features: Tensor, d_inv_sqrt: Tensor, first_row: int) -> Tensor:
            scaled = d_inv_sqrt[:, :, None] * features  # (P, N, C) = D^-1/2 X
            return torch.cat([
                run(propagate_rows, *stats, d_inv_sqrt, scaled, start,
                    min(start + step, num_nodes))
                for start in range(first_row, num_nodes, step)], dim=1)

        degree = torch.cat([
            run(degree_rows, *stats, start, min(start + step, num_nodes))
            for start in range(0, num_nodes, step)], dim=1)  # (P, N), each ≥ 1
        d_inv_sqrt = _inv_sqrt_degree(degree)
        hidden = F.relu(propagate(self.theta0(nodes), d_inv_sqrt, 0))  # (P, N, C_hid)
        return F.relu(propagate(self.theta1(hidden), d_inv_sqrt, num_support))
