"""Early-exit thresholds that hold on images the calibration did not see
(mmfsod/classification/early_exit_selection.py): plain numpy, seeded."""
import math

import numpy as np
import pytest

from mmfsod.classification import early_exit as ee
from mmfsod.classification import early_exit_selection as sel


def synthetic_table(num_images, seed, num_classes=6, num_patches=8):
    """Half the images are easy (every patch confidently right), half hard
    (noisy patches, a confusing class): exiting early is cheap on the easy
    ones and costs top-1 on the hard ones. One patch per stage, 1 MAC each."""
    rng = np.random.default_rng(seed)
    probs, labels = [], []
    for _ in range(num_images):
        y = int(rng.integers(num_classes))
        other = (y + 1 + int(rng.integers(num_classes - 1))) % num_classes
        z = rng.normal(0, 1.0, size=(num_patches, num_classes))  # (P, K)
        if rng.random() < 0.5:
            z[:, y] += 3.0
        else:
            z[:, y] += rng.normal(0.6, 1.0) + rng.normal(0, 1.5, size=num_patches)
            z[:, other] += rng.normal(0.5, 1.5, size=num_patches)
        z *= 2.0
        p = np.exp(z - z.max(axis=1, keepdims=True))
        probs.append(p / p.sum(axis=1, keepdims=True))
        labels.append(y)
    n = num_images
    return ee.build_stage_table(probs, labels, [0] * n, [1] * n, (1, ))


def test_bootstrap_choice_holds_where_the_plain_choice_does_not():
    """On 12 calibration samples of 120 images, the old rule (both families,
    the cheapest point within 1 point on the sample) loses more than the
    1-point budget on a large independent sample most of the time; the
    default rule (one shared threshold, bootstrap bound) at most once, and
    still saves MACs."""
    big = synthetic_table(10000, 999)
    old_drops, new_drops, new_macs = [], [], []
    for seed in range(12):
        small = synthetic_table(120, seed)
        old = ee.pick(ee.sweep(small), max_top1_drop=1.0)
        new = sel.pick_bootstrap(small, ee.sweep(small, num_constant=101,
                                                 families=('constant', )), 1.0)
        assert new['drop_bound'] <= 1.0 and new['family'] in ('constant', 'all patches')
        old_drops.append(sel.transfer(big, old['thresholds'])['drop'])
        moved = sel.transfer(big, new['thresholds'])
        new_drops.append(moved['drop'])
        new_macs.append(moved['macs'])
    assert sum(d > 1.0 for d in old_drops) >= 8, old_drops
    assert sum(d > 1.0 for d in new_drops) <= 1, new_drops
    assert np.mean(new_drops) < 0.5 < np.mean(old_drops) - 2
    assert np.mean(new_macs) < 0.9 * 8  # not simply every patch


def test_decaying_thresholds_save_macs_and_still_hold():
    """On 6 calibration samples of 1,200 images, adding the decay family to
    the constant one (bootstrap bound Sidak-corrected over the 6 curves)
    keeps every drop on a large independent sample within the 1-point
    budget and spends fewer MACs than the constant family alone."""
    big = synthetic_table(10000, 999)
    macs = {'constant': [], 'constant+decay': []}
    for seed in range(6):
        small = synthetic_table(1200, seed)
        for name, families in (('constant', ('constant', )),
                               ('constant+decay', ('constant', 'decay'))):
            results = ee.sweep(small, num_constant=101, families=families)
            chosen = sel.pick_bootstrap(small, results, 1.0)
            curves = 1 if name == 'constant' else 6
            assert sel.swept_curves(results) == curves
            assert chosen['quantile'] == pytest.approx(0.95 ** (1 / curves))
            moved = sel.transfer(big, chosen['thresholds'])
            assert moved['drop'] <= 1.0, (name, seed, moved)
            macs[name].append(moved['macs'])
    assert np.mean(macs['constant+decay']) < 0.85 * np.mean(macs['constant'])


def test_decay_family_thresholds():
    assert ee.decay_thresholds(0.8, 0.5, 3) == [0.8, 0.4, 0.2]
    t = synthetic_table(30, 0)  # 8 stages
    results = ee.sweep(t, num_constant=5, families=('decay', ), decays=(0.9, 0.5))
    decay = [r for r in results if r['family'] == 'decay']
    assert {r['decay'] for r in decay} == {0.9, 0.5} and len(decay) == 10
    for r in decay:
        assert r['thresholds'] == ee.decay_thresholds(r['param'], r['decay'], 8)
        assert r['top1'] == ee.evaluate(t, r['thresholds'])['top1']
        assert ee.describe(r).startswith('threshold ')
    # a decaying threshold exits every image no later than the constant one
    # from the same start
    for r in decay:
        assert (ee.exit_stages(t, r['thresholds'])
                <= ee.exit_stages(t, [r['param']])).all()
    with pytest.raises(ValueError, match='decay factor must be in'):
        ee.sweep(t, families=('decay', ), decays=(1.0, ))


def test_outcome_counts_and_bootstrap_by_hand():
    # image 0: right only after both patches; image 1: right only with the
    # first; image 2: always right
    probs = [np.array([[.1, .8, .1], [.95, .0, .05]]),
             np.array([[.1, .8, .1], [.0, .0, 1.]]),
             np.array([[.9, .05, .05], [.9, .05, .05]])]
    t = ee.build_stage_table(probs, [0, 1, 0], [0, 0, 0], [1, 1, 1], (1, ))
    results = [dict(family='all patches', param=None, thresholds=[math.inf]),
               dict(family='first stage', param=None, thresholds=[0.0]),
               dict(family='constant', param=.85, thresholds=[0.85])]
    counts = sel.outcome_counts(t, results)  # lost, gained, unchanged
    assert counts.tolist() == [[0, 0, 3], [1, 1, 1], [0, 0, 3]]
    drops = sel.bootstrap_drops(t, results, num_resamples=500, seed=3)
    assert drops.shape == (3, 500)
    assert np.array_equal(drops, sel.bootstrap_drops(t, results, 500, seed=3))
    # lost = gained: the draws centre on no drop
    assert abs(np.median(drops[1])) < 10
    # the same counts give the same draws (one stream for every point)
    assert np.array_equal(drops[0], drops[2])


def test_no_calibration_loss_is_not_a_certificate_on_few_images():
    """A threshold that lost none of 10 images: the plain rule takes it for
    free, the bootstrap bound (prior) keeps every patch; on 1,000 images with
    the same outcome it qualifies."""
    def table(n):
        probs = [np.array([[.1, .9, 0.], [.1, .9, 0.]])] * n
        return ee.build_stage_table(probs, [1] * n, [0] * n, [1] * n, (1, ))
    for n, expect in ((10, 'all patches'), (1000, 'first stage')):
        t = table(n)
        results = ee.sweep(t)
        assert ee.pick(results, max_top1_drop=1.0)['family'] == 'first stage'
        chosen = sel.pick_bootstrap(t, results, 1.0)
        assert chosen['family'] == expect, (n, chosen)
        assert chosen['drop'] == 0.0
    assert sel.pick_bootstrap(table(10), ee.sweep(table(10)), 1.0)['drop_bound'] == 0.0


def test_transfer_reports_the_drop_on_other_images():
    probs = [np.array([[.1, .8, .1], [.95, .0, .05]]),
             np.array([[.1, .8, .1], [.1, .8, .1]])]
    t = ee.build_stage_table(probs, [0, 1], [5, 5], [10, 10], (1, ))
    out = sel.transfer(t, [0.0])
    assert out['all_top1'] == 100.0 and out['top1'] == 50.0 and out['drop'] == 50.0
    assert out['macs'] == 15.0 and out['all_macs'] == 25.0 and out['patches'] == 1.0
    # one image lost of two: se = 100 * sqrt(1 - 1 / 2) / 2
    assert (out['lost'], out['gained']) == (1, 0)
    assert out['drop_se'] == pytest.approx(100 * math.sqrt(0.5) / 2)
    assert sel.transfer(t, [math.inf])['drop_se'] == 0.0


def test_sweep_families_and_bad_inputs():
    t = synthetic_table(30, 0)
    only = ee.sweep(t, families=('constant', ))
    assert {r['family'] for r in only} == {'all patches', 'first stage', 'constant'}
    assert {r['family'] for r in ee.sweep(t)} >= {'constant', 'budget'}
    with pytest.raises(ValueError, match="unknown families \\['per-stage'\\]"):
        ee.sweep(t, families=('per-stage', ))
    results = ee.sweep(t)
    with pytest.raises(ValueError, match='quantile must be a number in'):
        sel.pick_bootstrap(t, results, 1.0, quantile=1.5)
    with pytest.raises(ValueError, match='max_top1_drop must be a number >= 0'):
        sel.pick_bootstrap(t, results, float('nan'))
    with pytest.raises(ValueError, match="no 'all patches' point"):
        sel.pick_bootstrap(t, [r for r in results if r['family'] != 'all patches'], 1.0)
    with pytest.raises(ValueError, match='prior must be a number > 0'):
        sel.bootstrap_drops(t, results, prior=0)
    with pytest.raises(ValueError, match='num_resamples must be an int >= 1'):
        sel.bootstrap_drops(t, results, num_resamples=0)


def test_written_thresholds_are_exact():
    """A swept threshold is a recorded confidence: rounding it in the written
    config would move the image that sits on it to another stage."""
    thr = [0.1 + 0.2, 0.5322242109, math.inf]
    assert eval(ee.format_thresholds(thr)) == thr
