"""Receptive-field geometry, decision rule (eqs. 6-8) and LSP (Algorithm 1)
of :mod:`mmfsod.classification.lsp`, on hand-made inputs."""
import math

import numpy as np
import pytest

from mmfsod.classification import lsp
from mmfsod.classification.lsp import (DOWNSTREAM, VISUALISATION, branch_geometry,
                                       box_iou, decide, localize_semantic_patches,
                                       num_candidates, output_size, patch_boxes,
                                       receptive_field)

# Table 1 + Table 2 as (k, s, p) chains, typed here independently of the module.
HEAD = [(3, 2, 0), (3, 2, 0), (3, 2, 0)] + [(1, 1, 0)] * 5 + [(3, 1, 0), (3, 1, 0)]
BRANCHES = {'B63': HEAD + [(3, 1, 0), (1, 1, 0)],
            'B95': HEAD + [(3, 1, 0), (5, 1, 0)],
            'B111': HEAD + [(5, 1, 0), (5, 1, 0)]}


# ---------------------------------------------------------------- geometry
def test_receptive_field_tables():
    assert receptive_field(HEAD) == lsp.ReceptiveField(rf=47, stride=8, offset=0)
    assert receptive_field(BRANCHES['B63']).rf == 63
    assert receptive_field(BRANCHES['B95']).rf == 95
    assert receptive_field(BRANCHES['B111']).rf == 111
    assert receptive_field([]) == lsp.ReceptiveField(1, 1, 0)


def test_receptive_field_padding_dilation():
    assert receptive_field([(3, 1, 1), (3, 1, 1)]) == lsp.ReceptiveField(5, 1, -2)
    assert receptive_field([(3, 2, 1), (3, 1, 1)]) == lsp.ReceptiveField(7, 2, -3)
    assert receptive_field([(3, 1, 0, 2)]).rf == 5
    assert output_size(10, [(3, 1, 1), (3, 1, 1)]) == 10
    assert output_size(9, [(3, 1, 0, 2)]) == 5


def test_output_size_matches_closed_form():
    for size in range(111, 260):
        for name, layers in BRANCHES.items():
            geo = receptive_field(layers)
            assert output_size(size, layers) == (size - geo.rf) // geo.stride + 1


def test_branch_geometry_224():
    geo = branch_geometry(224, BRANCHES)
    assert list(geo) == ['B63', 'B95', 'B111']
    for name, side, rf in (('B63', 21, 63), ('B95', 17, 95), ('B111', 15, 111)):
        g = geo[name]
        assert (g.map_size, g.rf, g.stride, g.offset) == ((side, side), rf, 8, 0)
        assert g.boxes.shape == (side * side, 4) and g.num_locations == side * side
        assert g.boxes.dtype == np.int64
        for i, j in ((0, 0), (0, 1), (1, 0), (3, 5), (side - 1, side - 1)):
            assert g.boxes[i * side + j].tolist() == [8 * j, 8 * i, 8 * j + rf,
                                                      8 * i + rf]
        assert g.boxes.min() == 0 and g.boxes.max() <= 224
    assert geo['B63'].boxes[-1].tolist() == [160, 160, 223, 223]


def test_branch_geometry_non_square():
    g = branch_geometry((120, 200), BRANCHES)['B95']
    assert g.map_size == ((120 - 95) // 8 + 1, (200 - 95) // 8 + 1) == (4, 14)
    assert g.boxes[1].tolist() == [8, 0, 103, 95]  # (0, 1): x moves along w
    assert g.boxes[14].tolist() == [0, 8, 95, 103]  # (1, 0)


def test_patch_boxes_offset():
    b = patch_boxes((2, 2), rf=5, stride=2, offset=-2)
    assert b.tolist() == [[-2, -2, 3, 3], [0, -2, 5, 3], [-2, 0, 3, 5], [0, 0, 5, 5]]


def test_geometry_errors():
    with pytest.raises(ValueError, match=r"'B111'.*100x224.*111x111"):
        branch_geometry((100, 224), BRANCHES)
    with pytest.raises(ValueError, match=r"'B63'.*62x62.*63x63"):
        branch_geometry(62, {'B63': BRANCHES['B63']})
    with pytest.raises(ValueError, match='smaller than its receptive field 95'):
        output_size(94, BRANCHES['B95'], name='B95')
    with pytest.raises(ValueError, match='input_size'):
        branch_geometry((0, 224), BRANCHES)
    with pytest.raises(ValueError, match='layer 1: stride'):
        receptive_field([(3, 1, 0), (3, 0, 0)])
    with pytest.raises(ValueError, match='layer 0'):
        receptive_field([(3, 1)])


def test_box_iou_pixel_counts():
    a = np.array([0, 0, 4, 4])
    b = np.array([[2, 0, 6, 4], [4, 0, 8, 4], [0, 0, 4, 4], [1, 1, 3, 3]])
    np.testing.assert_allclose(box_iou(a, b), [8 / 24, 0, 1, 4 / 16])


# ----------------------------------------------------------- decision rule
def probs(*rows):
    return {n: np.asarray(r, dtype=float) for n, r in zip(('B63', 'B95', 'B111'), rows)}


def test_decide_three_agree():
    d = decide(probs([.5, .3, .2], [.7, .2, .1], [.6, .1, .3]))
    assert (d.label, d.branch) == (0, 'B95')
    assert d.branch_labels == {'B63': 0, 'B95': 0, 'B111': 0}
    assert d.branch_max == {'B63': .5, 'B95': .7, 'B111': .6}


def test_decide_two_agree_beats_most_confident():
    d = decide(probs([.05, .9, .05], [.6, .3, .1], [.5, .2, .3]))
    assert (d.label, d.branch) == (0, 'B95')


def test_decide_no_agreement():
    d = decide(probs([.5, .3, .2], [.1, .8, .1], [.2, .2, .6]))
    assert (d.label, d.branch) == (1, 'B95')
    # min_votes=1 is a plurality: every branch is its own majority; the tie
    # between three single-vote classes goes to the most confident supporter.
    rows = ([.5, .3, .2], [.1, .8, .1], [.2, .2, .6])
    assert decide(probs(*rows), min_votes=1).label == 1


def test_decide_ties():
    # equal P^j without majority: the first branch in dict order
    rows = ([.6, .3, .1], [.3, .6, .1], [.3, .3, .4])
    assert (decide(probs(*rows)).label, decide(probs(*rows)).branch) == (0, 'B63')
    swapped = {'B95': np.array(rows[1]), 'B63': np.array(rows[0]),
               'B111': np.array(rows[2])}
    assert (decide(swapped).label, decide(swapped).branch) == (1, 'B95')
    # equal P^j among the agreeing branches: the first of them
    d = decide(probs([.1, .1, .8], [.7, .2, .1], [.7, .1, .2]))
    assert (d.label, d.branch) == (0, 'B95')
    # a tie inside a branch: Y^j is the lower class index
    assert decide(probs([.4, .4, .2], [.3, .3, .4], [.1, .5, .4])).branch_labels[
        'B63'] == 0
    # eq. 8 literally: B63's maximum is tied between class 0 and gamma = 1, so
    # B63 (Y^63 = 0) qualifies and wins with the largest P^j.
    d = decide(probs([.48, .48, .04], [.1, .45, .45], [.3, .4, .3]))
    assert d.branch_labels['B63'] == 0
    assert (d.label, d.branch) == (1, 'B63')


def test_decide_batch_matches_single():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 50, 4)) * 2
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)  # (J, B, C)
    batch = decide({n: p[k] for k, n in enumerate(('B63', 'B95', 'B111'))})
    assert batch.label.shape == (50, ) and len(batch.branch) == 50
    for b in range(50):
        one = decide({n: p[k, b] for k, n in enumerate(('B63', 'B95', 'B111'))})
        assert (one.label, one.branch) == (batch.label[b], batch.branch[b])
        assert batch.branch_labels['B95'][b] == one.branch_labels['B95']
    assert len(set(batch.branch)) > 1 and len(set(batch.label.tolist())) > 1


def test_decide_errors():
    with pytest.raises(ValueError, match=r"branch 'B95'.*NaN"):
        decide(probs([.5, .5], [np.nan, 1.], [.5, .5]))
    with pytest.raises(ValueError, match=r"branch 'B111'.*infinite"):
        decide(probs([.5, .5], [.5, .5], [np.inf, 0.]))
    with pytest.raises(ValueError, match=r"'B95' has shape \(3,\)"):
        decide(probs([.5, .5], [.2, .3, .5], [.5, .5]))
    with pytest.raises(ValueError, match='empty'):
        decide({})
    with pytest.raises(ValueError, match='min_votes'):
        decide(probs([1.], [1.], [1.]), min_votes=0)
    with pytest.raises(ValueError, match=r"'B63'.*shape"):
        decide({'B63': np.ones((2, 2, 2))})


# --------------------------------------------------------------------- LSP
def reference_lsp(heatmap, boxes, k_max, iou_thr, coverage):
    """Algorithm 1 written out independently: explicit loops, python sort."""
    h, w = heatmap.shape
    coords = sorted(range(h * w), key=lambda t: (-heatmap[t // w, t % w], t))
    n = max(1, int(math.floor(round(h * w * coverage, 9))))

    def iou(a, b):
        iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union

    taken = [coords[0]]
    for t in coords[1:n]:
        if len(taken) == k_max:
            break
        if all(iou(boxes[t], boxes[s]) < iou_thr for s in taken):
            taken.append(t)
    return taken


def test_lsp_order_without_overlap():
    heat = np.array([[1., 9., 3.], [7., 5., 8.], [2., 6., 4.]])
    boxes = patch_boxes((3, 3), rf=4, stride=10)  # disjoint
    r = localize_semantic_patches(heat, boxes, k_max=4, iou_thr=0.5, coverage=1.0)
    assert r.indices.tolist() == [1, 5, 3, 7]
    assert r.activations.tolist() == [9., 8., 7., 6.]
    assert r.boxes.tolist() == boxes[[1, 5, 3, 7]].tolist()
    assert r.num_visited == 9


def test_lsp_iou_suppression():
    heat = np.array([[5., 4., 3., 1.]])
    boxes = patch_boxes((1, 4), rf=4, stride=2)  # neighbours: IoU 8/24 = 1/3
    r = localize_semantic_patches(heat, boxes, k_max=4, iou_thr=0.3, coverage=1.0)
    assert r.indices.tolist() == [0, 2]  # 1 overlaps 0, 3 overlaps 2
    r = localize_semantic_patches(heat, boxes, k_max=4, iou_thr=1 / 3, coverage=1.0)
    assert r.indices.tolist() == [0, 2]  # IoU == T is rejected (strict <)
    r = localize_semantic_patches(heat, boxes, k_max=4, iou_thr=0.34, coverage=1.0)
    assert r.indices.tolist() == [0, 1, 2, 3]
    # T = 1 rejects identical boxes only
    same = np.array([[0, 0, 4, 4]] * 4)
    r = localize_semantic_patches(heat, same, k_max=4, iou_thr=1.0, coverage=1.0)
    assert r.indices.tolist() == [0]


def test_lsp_coverage_and_k_bounds():
    heat = np.arange(10, 0, -1, dtype=float).reshape(1, 10)
    boxes = patch_boxes((1, 10), rf=2, stride=5)  # disjoint
    run = lambda k, p: localize_semantic_patches(  # noqa: E731
        heat, boxes, k_max=k, iou_thr=0.5, coverage=p).indices.tolist()
    assert run(10, 0.3) == [0, 1, 2]  # floor(10 * 0.3) = 3 visited
    assert run(10, 0.39) == [0, 1, 2]
    assert run(10, 0.01) == [0]  # floor < 1: the first patch is always taken
    assert run(2, 1.0) == [0, 1]  # K bound
    assert run(1, 1.0) == [0]
    assert num_candidates(100, 0.29) == 29  # 100 * 0.29 = 28.999999999999996
    assert [num_candidates(n, p) for n, p in ((441, .05), (289, .04), (225, .03))] \
        == [22, 11, 6]


def test_lsp_ties_are_row_major():
    heat = np.zeros((3, 3))
    heat[2, 2] = 1.0
    boxes = patch_boxes((3, 3), rf=1, stride=2)
    r = localize_semantic_patches(heat, boxes, k_max=4, iou_thr=0.5, coverage=1.0)
    assert r.indices.tolist() == [8, 0, 1, 2]


def test_lsp_paper_settings_hand_made():
    """B111 at 224 (15 x 15, RF 111, stride 8), heatmap decreasing along the
    first row: IoU of columns 0 and j is (111 - 8j) / (111 + 8j)."""
    g = branch_geometry(224, BRANCHES)['B111']
    heat = -np.arange(225, dtype=float).reshape(15, 15)
    vis = localize_semantic_patches(heat, g, **VISUALISATION['B111'])
    # P = 0.03 visits 6 locations, columns 1..5 all have IoU >= 0.3 with column 0
    assert vis.num_visited == 6 and vis.indices.tolist() == [0]
    down = localize_semantic_patches(heat, g, **DOWNSTREAM['B111'])
    # T = 0.8: IoU(j=1) = 103/119 rejected, IoU(2 apart) = 95/127 accepted
    assert down.num_visited == 67
    assert down.indices.tolist()[:4] == [0, 2, 4, 6]
    assert len(down.indices) == 8  # K = 8
    assert down.indices.tolist() == reference_lsp(heat, g.boxes, 8, 0.8, 0.3)


@pytest.mark.parametrize('setting', ['visualisation', 'downstream'])
def test_lsp_paper_settings_random(setting):
    rng = np.random.default_rng(1)
    geos = branch_geometry(224, BRANCHES)
    for name, g in geos.items():
        cfg = lsp.LSP_SETTINGS[setting][name]
        for trial in range(5):
            heat = rng.normal(size=g.map_size)
            if trial % 2:  # smooth blob: many overlapping high locations
                yy, xx = np.mgrid[:g.map_size[0], :g.map_size[1]]
                heat = -((yy - rng.integers(g.map_size[0])) ** 2 +
                         (xx - rng.integers(g.map_size[1])) ** 2) + 0.01 * heat
            r = localize_semantic_patches(heat, g, **cfg)
            assert r.indices.tolist() == reference_lsp(heat, g.boxes, **cfg)
            assert 1 <= len(r.indices) <= cfg['k_max']
            order = np.argsort(-heat.ravel(), kind='stable')
            assert set(r.indices) <= set(order[:r.num_visited].tolist())
            assert np.all(np.diff(r.activations) <= 0)
            for a in range(len(r.boxes)):
                assert np.all(box_iou(r.boxes[a], np.delete(r.boxes, a, 0))
                              < cfg['iou_thr'])


def test_downstream_setting_always_gives_k_patches():
    """At 224 the paper's downstream T = 0.8 barely suppresses (neighbour IoU
    (RF - 8) / (RF + 8): 0.77 / 0.84 / 0.87): any heatmap, peaked or flat,
    yields exactly K = 24 / 10 / 8 patches."""
    rng = np.random.default_rng(0)
    for name, g in branch_geometry(224, BRANCHES).items():
        rf = g.rf
        assert ((rf - 8) / (rf + 8) < 0.8) == (name == 'B63')
        h, w = g.map_size
        yy, xx = np.mgrid[:h, :w]
        for sigma in (0.7, 2.0, 100.0):
            heat = np.exp(-((yy - h // 2) ** 2 + (xx - w // 2) ** 2) / (2 * sigma ** 2))
            heat += 1e-6 * rng.random((h, w))
            r = localize_semantic_patches(heat, g, **DOWNSTREAM[name])
            assert len(r.indices) == DOWNSTREAM[name]['k_max']


def test_lsp_settings_values():
    assert {n: tuple(v.values()) for n, v in VISUALISATION.items()} == {
        'B63': (5, .3, .05), 'B95': (3, .3, .04), 'B111': (2, .3, .03)}
    assert {n: tuple(v.values()) for n, v in DOWNSTREAM.items()} == {
        'B63': (24, .8, .3), 'B95': (10, .8, .3), 'B111': (8, .8, .3)}
    with pytest.raises(TypeError):
        VISUALISATION['B63']['k_max'] = 1  # read-only
    with pytest.raises(KeyError):
        VISUALISATION['B64']


def test_lsp_bad_inputs():
    heat = np.ones((2, 2))
    boxes = patch_boxes((2, 2), 3, 2)
    ok = dict(k_max=2, iou_thr=0.5, coverage=0.5)

    def run(**kw):
        args = dict(ok, **kw)
        return localize_semantic_patches(args.pop('heat', heat),
                                         args.pop('boxes', boxes), **args)

    for k in (0, -1, 1.5, True, '3'):
        with pytest.raises(ValueError, match=r'k_max \(K\)'):
            run(k_max=k)
    for t in (0, -0.1, 1.01, float('nan')):
        with pytest.raises(ValueError, match=r'iou_thr \(T\)'):
            run(iou_thr=t)
    for p in (0, 1.5, -0.2, float('nan')):
        with pytest.raises(ValueError, match=r'coverage \(P\)'):
            run(coverage=p)
    with pytest.raises(ValueError, match='NaN'):
        run(heat=np.array([[1., np.nan], [0., 0.]]))
    with pytest.raises(ValueError, match='infinite'):
        run(heat=np.array([[1., np.inf], [0., 0.]]))
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        run(heat=np.ones(4))
    with pytest.raises(ValueError, match=r'\(4, 4\)'):
        run(boxes=np.zeros((3, 4)))
    g = branch_geometry(224, BRANCHES)['B95']
    with pytest.raises(ValueError, match="'B95' map size"):
        run(boxes=g)
