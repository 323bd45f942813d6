"""The early-exit rule and its offline calibration (plain functions,
mmfsod.classification.early_exit), checked against hand computations."""
import math

import numpy as np
import pytest

from mmfsod.classification import early_exit as ee


# ------------------------------------------------------------------ setting
@pytest.mark.parametrize('cfg, match', [
    (dict(thresholds=float('nan')), 'must not be NaN'),
    (dict(thresholds=[0.5, float('nan')]), 'must not be NaN'),
    (dict(thresholds='0.5'), 'thresholds must be a number'),
    (dict(thresholds=[]), 'thresholds must be a number'),
    (dict(thresholds=[0.5, None]), 'thresholds must be a number'),
    (dict(thresholds=True), 'thresholds must be a number'),
    (dict(), 'thresholds is required'),
    (dict(thresholds=0.5, stages=0), 'stages must be a positive int'),
    (dict(thresholds=0.5, stages=[1, 0]), 'stages must be a positive int'),
    (dict(thresholds=0.5, stages=[1.5]), 'stages must be a positive int'),
    (dict(thresholds=0.5, stages=[True]), 'stages must be a positive int'),
    (dict(thresholds=0.5, stages=[]), 'stages must be a positive int'),
    (dict(thresholds=0.5, score='entropy'), 'score must be one of'),
    (dict(thresholds=0.5, threshold=0.5), r"unknown key\(s\) \['threshold'\]"),
])
def test_bad_exit_settings_name_the_key(cfg, match):
    with pytest.raises(ValueError, match=match):
        ee.check_exit_cfg(cfg, 'my.exit_cfg')


def test_exit_setting_normalised():
    assert ee.check_exit_cfg(None) is None
    assert ee.check_exit_cfg(dict(thresholds=0.9)) == dict(
        stages=(1, ), thresholds=(0.9, ), score='max')
    assert ee.check_exit_cfg(dict(stages=2, thresholds=[1, float('inf')],
                                  score='margin')) == dict(
        stages=(2, ), thresholds=(1.0, math.inf), score='margin')
    with pytest.raises(TypeError, match='exit_cfg must be a dict'):
        ee.check_exit_cfg(0.9)


def test_stage_ends_and_thresholds():
    assert ee.stage_ends(7, (1, )) == [1, 2, 3, 4, 5, 6, 7]
    assert ee.stage_ends(7, (1, 2)) == [1, 3, 5, 7]
    assert ee.stage_ends(6, (4, 4)) == [4, 6]
    assert ee.stage_ends(1, (3, )) == [1]
    assert ee.stage_ends(0, (1, )) == []
    assert [ee.stage_threshold((0.9, 0.5), s) for s in range(4)] == [0.9, 0.5, 0.5, 0.5]


def test_confidence_max_and_margin():
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(ee.confidence(scores, 'max'), [0.5, 0.8])
    np.testing.assert_allclose(ee.confidence(scores, 'margin'), [0.2, 0.7])
    with pytest.raises(ValueError, match='score must be one of'):
        ee.confidence(scores, 'mean')


def test_exit_stage_rule():
    assert ee.exit_stage([0.4, 0.6, 0.95], [0.9]) == 2
    assert ee.exit_stage([0.4, 0.6, 0.7], [0.9]) == 2  # patches run out
    assert ee.exit_stage([0.4, 0.6, 0.7], [0.9, 0.5]) == 1  # per-stage threshold
    assert ee.exit_stage([0.4, 0.6], [0.0]) == 0  # threshold 0: the first stage
    assert ee.exit_stage([1.0, 1.0], [math.inf]) == 1  # never triggers
    assert ee.exit_stage([0.9], [0.9]) == 0  # reaching is enough
    # reaching is enough before the last stage too (a `>` would go on)
    assert ee.exit_stage([0.9, 0.95], [0.9]) == 0
    assert ee.exit_stage([0.2, 0.5, 0.95], [0.9, 0.5]) == 1
    with pytest.raises(ValueError, match='no stage'):
        ee.exit_stage([], [0.5])


# -------------------------------------------------------------- calibration
def fixed_table(score='max'):
    """Three images, 3 classes, one patch per stage.

    image 0 (label 0): patches [.9 .05 .05], [.1 .8 .1]
    image 1 (label 1): patches [.4 .5 .1], [.2 .7 .1], [.1 .8 .1]
    image 2 (label 2): one patch [.2 .2 .6]
    localizer 100 MACs each, one patch 10 (image 2: 20) MACs.
    """
    probs = [np.array([[.9, .05, .05], [.1, .8, .1]]),
             np.array([[.4, .5, .1], [.2, .7, .1], [.1, .8, .1]]),
             np.array([[.2, .2, .6]])]
    return ee.build_stage_table(probs, [0, 1, 2], [100, 100, 100], [10, 10, 20],
                                (1, ), score)


def test_stage_table_by_hand():
    t = fixed_table()
    # cumulative means: image 0: [.9 .05 .05] -> [.5 .425 .075]
    #   image 1: [.4 .5 .1] -> [.3 .6 .1] -> [.2333 .6667 .1]
    np.testing.assert_allclose(t.conf, [[.9, .5, np.inf], [.5, .6, 2 / 3],
                                        [.6, np.inf, np.inf]])
    assert t.correct.tolist() == [[True, True, True], [True, True, True],
                                  [True, True, True]]
    np.testing.assert_allclose(t.macs, [[110, 120, 120], [110, 120, 130],
                                        [120, 120, 120]])
    assert t.patches.tolist() == [[1, 2, 2], [1, 2, 3], [1, 1, 1]]
    assert t.num_stages.tolist() == [2, 3, 1]


def test_evaluate_by_hand():
    t = fixed_table()
    # threshold .55: image 0 exits at stage 0 (.9), image 1 at stage 1 (.6),
    # image 2 at stage 0 (its only one)
    assert ee.exit_stages(t, [.55]).tolist() == [0, 1, 0]
    r = ee.evaluate(t, [.55])
    assert r['top1'] == pytest.approx(100.0)
    assert r['macs'] == pytest.approx((110 + 120 + 120) / 3)
    assert r['patches'] == pytest.approx((1 + 2 + 1) / 3)
    # inf: all patches; 0: the first patch alone
    assert ee.exit_stages(t, [math.inf]).tolist() == [1, 2, 0]
    assert ee.evaluate(t, [math.inf])['macs'] == pytest.approx((120 + 130 + 120) / 3)
    assert ee.exit_stages(t, [0.0]).tolist() == [0, 0, 0]
    # image 0 with its second patch only would be wrong: label 0, [.1 .8 .1]
    probs = [np.array([[.1, .8, .1], [.9, .05, .05]])]
    t2 = ee.build_stage_table(probs, [0], [0], [1], (1, ))
    assert ee.evaluate(t2, [0.0])['top1'] == 0.0
    assert ee.evaluate(t2, [math.inf])['top1'] == 100.0  # [.5 .425 .075]


def test_confidence_equal_to_the_threshold_stops_in_the_table():
    """Confidences exactly at a threshold before the last stage (binary
    fractions, so the cumulative means are exact): the image stops there."""
    probs = [np.array([[.5, .25, .25], [.25, .5, .25]]),  # conf .5, then .375
             np.array([[.25, .5, .25], [.25, .75, 0.], [0., 1., 0.]])]  # .5, .625, .75
    t = ee.build_stage_table(probs, [0, 1], [0, 0], [1, 1], (1, ))
    np.testing.assert_array_equal(t.conf[:, :2], [[.5, .375], [.5, .625]])
    assert ee.exit_stages(t, [.5]).tolist() == [0, 0]
    assert ee.exit_stages(t, [.75, .625]).tolist() == [1, 1]
    assert ee.exit_stages(t, [.75, .75]).tolist() == [1, 2]
    for i in range(2):  # the scalar rule agrees
        for thr in ([.5], [.75, .625], [.75, .75]):
            assert ee.exit_stage(t.conf[i, :t.num_stages[i]], thr) == \
                ee.exit_stages(t, thr)[i]


def test_vectorised_rule_equals_the_scalar_rule():
    rng = np.random.default_rng(0)
    probs = [rng.dirichlet(np.ones(4), size=int(rng.integers(1, 9)))
             for _ in range(50)]
    for stages in [(1, ), (2, 1), (3, )]:
        t = ee.build_stage_table(probs, rng.integers(0, 4, 50), [5] * 50, [1] * 50,
                                 stages)
        for thr in [[0.3], [0.5, 0.7, 0.4], [0.0], [math.inf]]:
            expected = [ee.exit_stage(t.conf[i, :t.num_stages[i]], thr)
                        for i in range(50)]
            assert ee.exit_stages(t, thr).tolist() == expected


def test_budget_thresholds_exit_the_planned_fractions():
    """q = 1 over 4 stages: a quarter of the images exits at each stage."""
    rng = np.random.default_rng(1)
    probs = [rng.dirichlet(np.ones(5), size=4) for _ in range(40)]
    t = ee.build_stage_table(probs, [0] * 40, [0] * 40, [1] * 40, (1, ))
    thr = ee.budget_thresholds(t, 1.0)
    assert len(thr) == 4 and thr[-1] == math.inf
    counts = np.bincount(ee.exit_stages(t, thr), minlength=4)
    assert counts.tolist() == [10, 10, 10, 10]
    # q small: nearly everything exits at the first stage
    counts = np.bincount(ee.exit_stages(t, ee.budget_thresholds(t, 0.05)), minlength=4)
    assert counts[0] >= 37


def test_sweep_and_pick():
    t = fixed_table()
    results = ee.sweep(t)
    names = {r['family'] for r in results}
    assert {'all patches', 'first stage', 'constant', 'budget'} <= names
    for r in results:  # each point is what evaluate says of its thresholds
        assert r == dict(r, **ee.evaluate(t, r['thresholds']))
    assert [r['macs'] for r in results] == sorted(r['macs'] for r in results)
    front = ee.pareto_front(results)
    assert all(a['top1'] < b['top1'] and a['macs'] <= b['macs']
               for a, b in zip(front, front[1:]))
    # every image is right at every stage: the cheapest point is the first stage
    best = ee.pick(results, max_top1_drop=0.0)
    assert best['macs'] == pytest.approx((110 + 110 + 120) / 3)
    assert ee.pick(results, target_macs=115e0)['macs'] <= 115
    with pytest.raises(ee.UnreachableTarget, match=r'cheapest point .* needs 0\.0000'):
        ee.pick(results, target_macs=100)
    with pytest.raises(ValueError, match='exactly one of'):
        ee.pick(results)
    with pytest.raises(ValueError, match='max_top1_drop must be a number'):
        ee.pick(results, max_top1_drop=float('nan'))


def test_pick_trades_accuracy_for_macs_by_hand():
    """Image 0 is right only after both patches: max_top1_drop 0 must keep
    them, a drop of 50 points allows the first patch alone."""
    probs = [np.array([[.1, .8, .1], [.95, .0, .05]]),  # label 0: wrong, then right
             np.array([[.1, .8, .1], [.1, .8, .1]])]  # label 1: right
    t = ee.build_stage_table(probs, [0, 1], [0, 0], [10, 10], (1, ))
    results = ee.sweep(t)
    keep = ee.pick(results, max_top1_drop=0.0)
    assert keep['top1'] == 100.0
    cheap = ee.pick(results, max_top1_drop=50.0)
    assert cheap['top1'] == 50.0 and cheap['macs'] == pytest.approx(10.0)


def test_empty_calibration_split_is_an_error():
    with pytest.raises(ValueError, match='empty calibration split'):
        ee.build_stage_table([], [], [], [], (1, ))


def test_format_thresholds_round_trips():
    text = ee.format_thresholds([0.9, 0.8, math.inf, math.inf])
    assert text == "[0.9, 0.8, float('inf')]"
    assert eval(text) == [0.9, 0.8, math.inf]
