"""Early-exit thresholds chosen to hold on images the calibration did not see.

Plain numpy, like :mod:`mmfsod.classification.early_exit`, whose stage table
and sweep it reads.

Why a second rule. :func:`early_exit.pick` takes the cheapest swept point
whose top-1 on the calibration images is within ``max_top1_drop`` of the
all-patch top-1. On a small calibration set this selects noise: among
dozens of candidates, the cheapest one that happens to lose at most one
image is usually one that loses several on other images (on the toy set,
120 held-out images, a 1-point budget lost 7.5 points on the validation
images). Two remedies, both here:

Fewer free thresholds
    The ``'constant'`` family (one threshold shared by every stage, one free
    parameter, monotone: a higher threshold never exits an image earlier)
    and the ``'decay'`` family (a threshold falling geometrically from stage
    to stage, a few fixed factors: the running mean of more patches is a
    surer prediction at the same confidence) are the default of
    ``calibrate_early_exit.py``; the budgeted family fits one threshold per
    stage, the later ones on the few images still running.

A bootstrap choice (:func:`pick_bootstrap`)
    The top-1 drop of a candidate against the all-patch pipeline is a paired
    difference over the calibration images: only the images it loses or
    gains count. It is redrawn ``num_resamples`` times (a Bayesian bootstrap
    of the lost / gained / unchanged counts with a small prior, so that a
    candidate that lost no calibration image still may lose some elsewhere;
    seeded, the same stream for every candidate), and the cheapest candidate
    whose drop stays within the budget on the ``quantile`` (default 0.95,
    Sidak-corrected for the number of threshold curves swept) of the draws
    is chosen: an upper confidence bound on the drop instead of its point
    estimate. The all-patch point always qualifies.

:func:`transfer` evaluates chosen thresholds on another table (the
validation images), for the report only: nothing is chosen there.
"""
import math
import numbers
from typing import Dict, Sequence

import numpy as np

from .early_exit import StageTable, evaluate, exit_stages

SELECTIONS = ('bootstrap', 'plain')


def per_image(table: StageTable, thresholds: Sequence[float]) -> Dict[str, np.ndarray]:
    """Per image of ``table``, with ``thresholds``: ``correct`` ``(N,)`` bool
    and ``macs`` ``(N,)`` at the stage the image stops after."""
    stop = exit_stages(table, thresholds)  # (N,)
    rows = np.arange(len(table))
    return dict(correct=table.correct[rows, stop], macs=table.macs[rows, stop])


def outcome_counts(table: StageTable, results: Sequence[dict]) -> np.ndarray:
    """``(C, 3)`` per swept point, how many images of ``table`` it loses
    (wrong, right with all patches), gains (right, wrong with all patches)
    and leaves unchanged."""
    reference = per_image(table, [math.inf])['correct']  # (N,)
    counts = []
    for r in results:
        correct = per_image(table, r['thresholds'])['correct']
        lost = int(np.sum(reference & ~correct))
        gained = int(np.sum(~reference & correct))
        counts.append((lost, gained, len(table) - lost - gained))
    return np.array(counts, dtype=np.int64).reshape(-1, 3)


def bootstrap_drops(table: StageTable, results: Sequence[dict],
                    num_resamples: int = 2000, seed: int = 0,
                    prior: float = 0.5) -> np.ndarray:
    """``(C, B)`` top-1 drop (points) against the all-patch pipeline of each
    of the ``C`` swept points, on ``B`` Bayesian-bootstrap draws.

    The drop depends on the images only through the counts of images lost,
    gained and unchanged (:func:`outcome_counts`); resampling the images is
    resampling these counts. Each draw is the drop ``100 * (p_lost -
    p_gained)`` under ``Dirichlet(lost + prior, gained + prior, unchanged +
    prior)``: with ``prior > 0`` a point that lost no calibration image
    still has a plausible loss rate of order ``1 / N`` (the plain bootstrap
    would certify it with no margin). Seeded; every point uses the same
    random stream.
    """
    if not (isinstance(num_resamples, numbers.Integral) and num_resamples >= 1):
        raise ValueError(f'bootstrap: num_resamples must be an int >= 1, got '
                         f'{num_resamples!r}')
    if not (isinstance(prior, numbers.Real) and prior > 0):
        raise ValueError(f'bootstrap: prior must be a number > 0, got {prior!r}')
    drops = []
    for lost, gained, same in outcome_counts(table, results):
        rng = np.random.default_rng(seed)
        p = rng.dirichlet([lost + prior, gained + prior, same + prior],
                          size=num_resamples)  # (B, 3)
        drops.append(100.0 * (p[:, 0] - p[:, 1]))
    return np.stack(drops)  # (C, B)


def swept_curves(results: Sequence[dict]) -> int:
    """How many one-parameter threshold curves ``results`` sweeps: the
    constant family is one, each decay factor one, the budgeted family one
    (the all-patch and first-stage points belong to every curve)."""
    curves = {(r['family'], r.get('decay')) for r in results
              if r['family'] not in ('all patches', 'first stage')}
    return max(len(curves), 1)


def pick_bootstrap(table: StageTable, results: Sequence[dict], max_top1_drop: float,
                   quantile: float = 0.95, num_resamples: int = 2000,
                   seed: int = 0, prior: float = 0.5) -> dict:
    """The cheapest swept point (mean MACs on ``table``) whose top-1 drop
    against all patches stays within ``max_top1_drop`` points on a high
    quantile of ``num_resamples`` bootstrap resamples of the images.

    ``results`` are :func:`early_exit.sweep`'s points on ``table``. Along one
    curve (one family and decay factor) the points are nested: a higher
    threshold keeps more patches. Choosing among ``m`` curves is ``m``
    chances to pick a lucky one, so the bound holds each curve to the
    Sidak-corrected quantile ``quantile ** (1 / m)`` (0.95 for one curve,
    0.9915 for the six of the default ``constant`` + ``decay`` sweep).
    Returns a copy of the chosen point with ``drop`` (its drop on
    ``table``), ``drop_bound`` (the bootstrap quantile) and ``quantile`` (the
    corrected one) added. The all-patch point (thresholds ``inf``, no image
    exits early) has no drop on any image and a bound of 0, so a choice
    always exists.
    """
    for name, value, ok in (
            ('max_top1_drop', max_top1_drop, lambda v: v >= 0),
            ('quantile', quantile, lambda v: 0 <= v <= 1)):
        if not isinstance(value, numbers.Real) or math.isnan(value) or not ok(value):
            raise ValueError(f'pick_bootstrap: {name} must be a number '
                             f'{">= 0" if name == "max_top1_drop" else "in [0, 1]"}, '
                             f'got {value!r}')
    if not results:
        raise ValueError('pick_bootstrap: no swept points')
    if not any(r['family'] == 'all patches' for r in results):
        raise ValueError("pick_bootstrap: the sweep has no 'all patches' point")
    corrected = float(quantile) ** (1.0 / swept_curves(results))
    drops = bootstrap_drops(table, results, num_resamples, seed, prior)  # (C, B)
    bounds = np.quantile(drops, corrected, axis=1)  # (C,)
    # no threshold ever reached: every image's prediction is the reference's
    never = np.array([all(math.isinf(t) and t > 0 for t in r['thresholds'])
                      for r in results])
    bounds[never] = 0.0
    full = next(r for r in results if r['family'] == 'all patches')
    ok = [(r, float(b)) for r, b in zip(results, bounds) if b <= max_top1_drop + 1e-9]
    chosen, bound = min(ok, key=lambda rb: (rb[0]['macs'], -rb[0]['top1']))
    return dict(chosen, drop=full['top1'] - chosen['top1'], drop_bound=bound,
                quantile=corrected)


def transfer(table: StageTable, thresholds: Sequence[float]) -> Dict[str, float]:
    """Chosen ``thresholds`` on another table (e.g. the validation images):
    ``top1``, ``macs``, ``patches`` as :func:`early_exit.evaluate`, plus
    ``all_top1`` / ``all_macs`` (every patch), ``drop`` (points), ``lost`` /
    ``gained`` (images) and ``drop_se``, the standard error of the drop as
    an estimate of the drop on further images of the same distribution
    (paired: ``100 * sqrt(lost + gained - (lost - gained)^2 / N) / N``)."""
    point = evaluate(table, thresholds)
    full = evaluate(table, [math.inf])
    lost, gained, _ = outcome_counts(table, [dict(thresholds=list(thresholds))])[0]
    n = len(table)
    var = max(float(lost + gained) - float(lost - gained) ** 2 / n, 0.0)
    return dict(point, all_top1=full['top1'], all_macs=full['macs'],
                drop=full['top1'] - point['top1'], lost=int(lost), gained=int(gained),
                drop_se=100.0 * math.sqrt(var) / n)
