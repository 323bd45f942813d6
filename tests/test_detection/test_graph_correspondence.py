"""Tests of lcRPN's graph (GCN-FSOD eqs. 1-2): kernel, GCN, chunked path."""
import math

import pytest
import torch
from torch.autograd.graph import saved_tensors_hooks

from mmfsod.detection.models.layers import (GraphCorrespondence, gaussian_adjacency,
                                            normalized_adjacency)

EPS = 1e-6


def reference_adjacency(nodes, temperature, eps=EPS):
    """Eq. 1 by a double loop over one graph's (N, C) nodes."""
    num = nodes.shape[0]
    adj = torch.empty(num, num, dtype=nodes.dtype)
    for i in range(num):
        for j in range(num):
            dist = torch.linalg.vector_norm(nodes[i] - nodes[j])
            norms = (torch.linalg.vector_norm(nodes[i])
                     * torch.linalg.vector_norm(nodes[j]))
            adj[i, j] = math.exp(-(dist / (norms + eps)).item() / temperature)
    return adj


def reference_forward(module, support, query):
    """Eqs. 1-2 for each pair separately: explicit D, diag matrices, matmuls."""
    temperature = float(module.temperature)
    w0 = module.theta0.weight.detach().T  # (C, C_hid) = Θ^0
    w1 = module.theta1.weight.detach().T  # (C_hid, C') = Θ^1
    outs = []
    for p in range(support.shape[0]):
        # (N, C): support vectors, then query vectors, row-major
        nodes = torch.cat([support[p].flatten(1), query[p].flatten(1)], dim=1).T
        adj = reference_adjacency(nodes, temperature)
        d_inv_sqrt = torch.diag(adj.sum(1) ** -0.5)
        adj_hat = d_inv_sqrt @ adj @ d_inv_sqrt
        h1 = torch.relu(adj_hat @ nodes @ w0)
        h2 = torch.relu(adj_hat @ h1 @ w1)
        q_nodes = h2[support[p].shape[1] * support[p].shape[2]:]  # (H·W, C')
        outs.append(q_nodes.T.reshape(-1, *query.shape[2:]))
    return torch.stack(outs)


def make_inputs(num_pairs=2, channels=6, support_hw=(2, 3), query_hw=(3, 4), seed=0,
                dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    support = torch.randn(num_pairs, channels, *support_hw, generator=gen, dtype=dtype)
    query = torch.randn(num_pairs, channels, *query_hw, generator=gen, dtype=dtype)
    return support.requires_grad_(), query.requires_grad_()


def make_module(seed=0, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(in_channels=6, hidden_channels=5, out_channels=4)
    cfg.update(kwargs)
    return GraphCorrespondence(**cfg)


def grads(module, support, query):
    """Output and d(loss)/d(support, query, parameters) for a fixed random loss."""
    out = module(support, query)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1),
                         dtype=out.dtype)
    inputs = [support, query] + [p for p in module.parameters()]
    return out, torch.autograd.grad((out * weight).sum(), inputs)


@pytest.mark.parametrize('temperature', [0.5, 1.0, 3.0])
def test_gaussian_adjacency_matches_eq1(temperature):
    nodes = torch.randn(2, 7, 5, dtype=torch.float64)
    nodes[1, 3] = 0  # a zero vector among non-zero ones
    adj = gaussian_adjacency(nodes, temperature, EPS)
    assert adj.shape == (2, 7, 7)
    for p in range(2):
        torch.testing.assert_close(adj[p], reference_adjacency(nodes[p], temperature),
                                   rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(adj, adj.transpose(1, 2))
    assert torch.equal(torch.diagonal(adj, dim1=1, dim2=2), torch.ones(2, 7).double())


def test_gaussian_adjacency_of_zero_vectors_is_all_ones():
    # distance 0 between zero vectors: a = exp(0) = 1, so every degree is N
    adj = gaussian_adjacency(torch.zeros(1, 4, 3), 1.0, EPS)
    assert torch.equal(adj, torch.ones(1, 4, 4))
    assert torch.equal(normalized_adjacency(adj), torch.full((1, 4, 4), 0.25))


def test_normalized_adjacency():
    adj = torch.rand(2, 5, 5, dtype=torch.float64)
    adj = adj + adj.transpose(1, 2)
    for p in range(2):
        d_inv_sqrt = torch.diag(adj[p].sum(1).rsqrt())
        torch.testing.assert_close(normalized_adjacency(adj)[p],
                                   d_inv_sqrt @ adj[p] @ d_inv_sqrt)
    isolated = adj.clone()
    isolated[0, 2, :] = 0
    isolated[0, :, 2] = 0
    out = normalized_adjacency(isolated)
    assert torch.isfinite(out).all() and (out[0, 2] == 0).all()


@pytest.mark.parametrize('temperature,learnable', [(1.0, False), (0.5, True),
                                                   (3.0, False)])
@pytest.mark.parametrize('chunk_size', [None, 4])
def test_forward_matches_reference(temperature, learnable, chunk_size):
    module = make_module(temperature=temperature, learnable_temperature=learnable,
                         chunk_size=chunk_size).double()
    support, query = make_inputs(dtype=torch.float64)
    with torch.no_grad():
        out = module(support, query)
        expected = reference_forward(module, support, query)
    assert out.shape == (2, 4, 3, 4) and out.dtype == torch.float64
    assert (expected > 0).any()  # not a vacuous all-zero ReLU output
    torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-12)
    # float32 agrees up to the rounding of the ‖x‖² + ‖y‖² − 2x·y distances
    module32 = module.float()
    out32 = module32(support.detach().float(), query.detach().float())
    torch.testing.assert_close(out32.double(), expected, rtol=1e-4, atol=1e-4)


def test_pairs_are_independent():
    module = make_module()
    support, query = make_inputs(num_pairs=3)
    out = module(support, query)
    for p in range(3):
        torch.testing.assert_close(out[p:p + 1], module(support[p:p + 1],
                                                        query[p:p + 1]))


@pytest.mark.parametrize('zero', ['support', 'query', 'both', 'some'])
@pytest.mark.parametrize('chunk_size', [None, 5])
def test_zero_vectors_are_finite(zero, chunk_size):
    module = make_module(learnable_temperature=True, chunk_size=chunk_size)
    support, query = make_inputs()
    with torch.no_grad():
        if zero in ('support', 'both'):
            support.zero_()
        if zero in ('query', 'both'):
            query.zero_()
        if zero == 'some':  # zero vectors among non-zero ones, e.g. ReLU / padding
            support[:, :, 0, :] = 0
            query[0, :, 1, 2] = 0
    out, grad_list = grads(module, support, query)
    assert torch.isfinite(out).all()
    for grad in grad_list:
        assert torch.isfinite(grad).all()


# N = 2·3 + 3·4 = 18 nodes: 1, 4, 5, 7, 17 do not divide it, 18 / 40 are one chunk
@pytest.mark.parametrize('chunk_size', [1, 4, 5, 6, 7, 17, 18, 40])
def test_chunked_matches_dense(chunk_size):
    support, query = make_inputs()
    dense = make_module(learnable_temperature=True, temperature=0.7)
    chunked = make_module(learnable_temperature=True, temperature=0.7,
                          chunk_size=chunk_size)
    chunked.load_state_dict(dense.state_dict())
    out_d, grads_d = grads(dense, support, query)
    out_c, grads_c = grads(chunked, support, query)
    torch.testing.assert_close(out_c, out_d, rtol=0, atol=1e-5)
    for grad_c, grad_d in zip(grads_c, grads_d):
        torch.testing.assert_close(grad_c, grad_d, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the path without checkpointing
        torch.testing.assert_close(chunked(support, query), out_d, rtol=0, atol=1e-5)


def test_chunked_keeps_no_adjacency_for_backward():
    """With a gradient, the chunked path saves only O(N·C) tensors (checkpoint)."""
    support, query = make_inputs(channels=4, support_hw=(5, 4), query_hw=(10, 18))
    num_nodes, num_query = 5 * 4 + 10 * 18, 10 * 18
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    for chunk_size in (None, 16):
        saved.clear()
        module = make_module(in_channels=4, hidden_channels=4, chunk_size=chunk_size)
        with saved_tensors_hooks(pack, lambda tensor: tensor):
            out = module(support, query)
        largest = max(saved.values())
        if chunk_size is None:
            assert largest >= num_query * num_query * 4  # one (Nq, Nq) block, float32
        else:
            assert largest < 16 * num_nodes * 4  # smaller than one (16, N) block
        out.sum().backward()


def test_learnable_temperature_gets_gradient_and_stays_positive():
    module = make_module(temperature=2.0, learnable_temperature=True)
    assert isinstance(module.log_temperature, torch.nn.Parameter)
    assert 'log_temperature' in module.state_dict()
    assert module.temperature.item() == pytest.approx(2.0)
    support, query = make_inputs()
    module(support, query).sum().backward()
    assert module.log_temperature.grad is not None
    assert module.log_temperature.grad.abs().item() > 0
    optim = torch.optim.SGD([module.log_temperature], lr=100.0)
    for _ in range(3):  # huge steps in both directions: T = exp(log T) > 0
        for sign in (1.0, -1.0):
            optim.zero_grad()
            (sign * module(support, query).sum()).backward()
            optim.step()
            assert module.temperature.item() > 0
    fixed = make_module(temperature=2.0)
    assert fixed.temperature == 2.0
    assert all('temperature' not in name for name, _ in fixed.named_parameters())


def test_gradients_reach_support_and_query():
    module = make_module()
    support, query = make_inputs()
    module(support, query).square().sum().backward()
    assert support.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in module.parameters())


def test_low_precision_input_runs_in_float32():
    module = make_module()
    support, query = make_inputs()
    out = module(support, query)
    out16 = module(support.detach().bfloat16(), query.detach().bfloat16())
    assert out16.dtype == torch.bfloat16 and torch.isfinite(out16).all()
    torch.testing.assert_close(out16.float(), out, rtol=0.05, atol=0.05)


def test_build_from_registry():
    from mmdet.registry import MODELS
    module = MODELS.build(dict(type='GraphCorrespondence', in_channels=6,
                               hidden_channels=5, out_channels=4, chunk_size=8))
    assert isinstance(module, GraphCorrespondence) and module.chunk_size == 8


@pytest.mark.parametrize('support_shape,query_shape,match', [
    ((2, 6, 2, 3), (3, 6, 3, 4), 'number of pairs'),
    ((2, 5, 2, 3), (2, 6, 3, 4), 'channels'),
    ((2, 5, 2, 3), (2, 5, 3, 4), 'in_channels = 6'),
    ((2, 6, 6), (2, 6, 3, 4), r'\(P, C, h, w\)'),
    ((2, 6, 0, 3), (2, 6, 3, 4), 'empty support'),
    ((0, 6, 2, 3), (0, 6, 3, 4), 'no pairs'),
    ((2, 6, 2, 3), (2, 6, 3, 0), 'empty query'),
])
def test_bad_shapes_raise(support_shape, query_shape, match):
    module = make_module()
    with pytest.raises(ValueError, match=match) as info:
        module(torch.zeros(support_shape), torch.zeros(query_shape))
    # the message names both shapes
    assert str(tuple(support_shape)) in str(info.value)
    assert str(tuple(query_shape)) in str(info.value)


@pytest.mark.parametrize('kwargs', [dict(temperature=0.0), dict(temperature=-1.0),
                                    dict(eps=0.0), dict(chunk_size=0),
                                    dict(chunk_size=2.5), dict(hidden_channels=0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        make_module(**kwargs)


# ------------------------------------------------- pairs that share a query
def dense_reference(module, support, query):
    """The unshared dense graph of every pair, from the public eq. 1-2 functions
    (:func:`gaussian_adjacency` centred by the pair's node mean), float32."""
    nodes = torch.cat([support.flatten(2), query.flatten(2)], dim=2).transpose(1, 2)
    adj = normalized_adjacency(gaussian_adjacency(nodes, module.temperature, module.eps))
    hidden = torch.relu(torch.bmm(adj, module.theta0(nodes)))
    num_support = support.shape[2] * support.shape[3]
    out = torch.relu(torch.bmm(adj[:, num_support:], module.theta1(hidden)))
    return out.transpose(1, 2).reshape(query.shape[0], -1, *query.shape[2:])


def shared_inputs(zeros=True, seed=0):
    """2 queries, 5 pairs (groups 0, 0, 1, 0, 1), post-ReLU-like maps with zero
    vectors: several zero query vectors, zero support borders, one all-zero
    support map."""
    gen = torch.Generator().manual_seed(seed)
    query = torch.randn(2, 6, 3, 4, generator=gen)
    support = torch.randn(5, 6, 2, 3, generator=gen)
    if zeros:
        query[0, :, 0, :2] = 0  # duplicate zero vectors in one query
        query[1, :, 2, 3] = 0
        support[:, :, :, 0] = 0  # a zero border column in every support
        support[3] = 0  # an all-zero support map
    groups = [0, 0, 1, 0, 1]
    return query.requires_grad_(), support.requires_grad_(), groups


def loss_grads(out, inputs):
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    return torch.autograd.grad((out * weight).sum(), inputs, retain_graph=True)


@pytest.mark.parametrize('zeros', [False, True])
@pytest.mark.parametrize('chunk_size', [None, 1, 5, 12, 40])
def test_shared_query_matches_unshared_dense(zeros, chunk_size):
    """Sharing the query's work: outputs and gradients (query, support,
    weights, T) equal the unshared path and today's dense graph to 1e-5."""
    query, support, groups = shared_inputs(zeros)
    module = make_module(learnable_temperature=True, temperature=0.7,
                         chunk_size=chunk_size)
    inputs = [query, support] + list(module.parameters())
    pair_q = query[torch.tensor(groups)]  # (5, C, H, W), as the detector gathers
    expected = dense_reference(module, support, pair_q)
    assert (expected > 0).any() and torch.isfinite(expected).all()
    grads_ref = loss_grads(expected, inputs)
    for query_groups in (groups, torch.tensor(groups), None):  # shared, shared, not
        out = module(support, pair_q, query_groups)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
        for grad, grad_ref in zip(loss_grads(out, inputs), grads_ref):
            assert torch.isfinite(grad).all()
            torch.testing.assert_close(grad, grad_ref, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the in-place path, without checkpointing
        torch.testing.assert_close(module(support, pair_q, groups), expected,
                                   rtol=0, atol=1e-5)


def test_shared_query_of_one_view_and_of_zero_maps():
    """An ``expand`` of one query map (the meta-test case) is shared without a
    copy; an all-zero query and all-zero supports give a = 1 everywhere."""
    module = make_module()
    query = torch.randn(1, 6, 3, 4).relu()
    support = torch.randn(4, 6, 2, 3).relu()
    pair_q = query.expand(4, -1, -1, -1)
    torch.testing.assert_close(module(support, pair_q, [7] * 4),
                               dense_reference(module, support, pair_q), rtol=0, atol=1e-5)
    zeros = torch.zeros(3, 6, 2, 2)
    out = module(zeros, torch.zeros(3, 6, 2, 2), [0, 0, 0])
    torch.testing.assert_close(out, dense_reference(module, zeros, torch.zeros(3, 6, 2, 2)))


def test_shared_query_must_be_the_same_map():
    module = make_module()
    query, support, groups = shared_inputs()
    pair_q = query.detach()[torch.tensor(groups)].clone()
    pair_q[3, 0, 0, 0] += 1e-3  # pair 3 is marked with pair 0's query, but differs
    with pytest.raises(ValueError, match=r'pairs 0 and 3 are marked as sharing a query '
                                         r'\(query_groups id 0\) but their query maps differ'):
        module(support, pair_q, groups)
    module(support, pair_q, [0, 1, 2, 3, 4])  # unshared: fine
    with pytest.raises(ValueError, match='query_groups has 4 entries for 5 pairs'):
        module(support, pair_q, groups[:4])
    with pytest.raises(ValueError, match='in_channels = 6'):  # support of 5 channels
        module(support[:, :5], pair_q, groups)


@pytest.mark.parametrize('chunk_size', [None, 7])
def test_two_zero_vectors_are_adjacent_among_wide_features(chunk_size):
    """Zero vectors among wide post-ReLU vectors (a large common component):
    their centred distance is a rounding residue (here 2e-3) that ``/ eps``
    would blow up to a ≈ 0; it is set to 0, so a = 1 between them, in the
    kernel and in the graph."""
    gen = torch.Generator().manual_seed(2)
    nodes = (torch.randn(1, 40, 1024, generator=gen) + 3).relu()
    nodes[0, [2, 5]] = 0
    adj = gaussian_adjacency(nodes, 0.05, EPS)
    assert adj[0, 2, 5] == 1 and adj[0, 5, 2] == 1
    assert (adj[0, [2, 5]][:, [0, 1, 3, 4]] < 1e-6).all()
    torch.manual_seed(0)
    module = GraphCorrespondence(1024, 4, 4, temperature=0.05, chunk_size=chunk_size)
    query = nodes[:, :36].transpose(1, 2).reshape(1, 1024, 6, 6)
    support = nodes[:, 36:].transpose(1, 2).reshape(1, 1024, 2, 2)
    torch.testing.assert_close(module(support, query, [0]),
                               dense_reference(module, support, query), rtol=0, atol=1e-5)
