"""Confidence early exit over LSP patches, and its offline calibration.

Plain python / numpy, no registry and no tensor framework: the rule that
:class:`~mmfsod.classification.models.PatchClassifier` applies at test time
and that ``tools/analysis_tools/calibrate_early_exit.py`` sweeps offline.

The paper (Yang et al., ICME 2022, section 4.3) classifies an image from its
LSP patches by adding their softmax distributions; its test images get
5.6 / 2.9 / 2.1 patches on average (B63 / B95 / B111), fewer than either of
its LSP settings returns. The authors' public code gets there by exiting
early, as MSDNet's dynamic evaluation does (Huang et al., ICLR 2018): the
patches are classified in stages, and an image stops as soon as its
prediction is confident enough.

Stages
    An image's ``n`` LSP patches, in LSP order (descending activation), are
    taken in stages of ``stages[0], stages[1], ...`` patches; the last size
    repeats until the patches run out (``stages=(1,)``: one patch per stage).
    :func:`stage_ends` gives the number of patches classified after each
    stage.

Score after stage ``s``
    ``p_s = (1 / n_s) * sum_{i <= n_s} softmax(z_i)``, the normalised sum of
    the softmaxes of the ``n_s`` patches classified so far (the image score
    of the all-patch pipeline when ``n_s = n``). Its confidence
    (:func:`confidence`) is ``max_k p_s[k]`` (``score='max'``) or the top-1
    minus top-2 margin (``score='margin'``).

Exit rule (:func:`exit_stage`)
    The image stops after the first stage ``s`` whose confidence reaches
    ``thresholds[s]`` (the last threshold repeats for later stages), or after
    its last stage when none does. A threshold above 1 never triggers (both
    scores lie in ``[0, 1]``): ``thresholds=inf`` gives exactly the
    all-patch pipeline; a threshold of 0 stops every image after its first
    stage.

Calibration (:func:`sweep`, :func:`pick`)
    On held-out images, one pass records every image's score after each
    stage (:class:`StageTable`); any threshold vector can then be evaluated
    offline (:func:`evaluate`). :func:`sweep` evaluates three families:
    one threshold for every stage, a threshold falling geometrically from
    stage to stage (:func:`decay_thresholds`) and MSDNet's budgeted one (a
    fraction ``q^s`` of the images, normalised, exits at stage ``s``), and
    :func:`pick` chooses the point for a target MACs budget or a maximum
    top-1 drop against the all-patch pipeline.
"""
import math
import numbers
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

EXIT_SCORES = ('max', 'margin')
EXIT_CFG_KEYS = ('stages', 'thresholds', 'score')


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_exit_cfg(exit_cfg: Optional[dict], what: str = 'exit_cfg') -> Optional[dict]:
    """Validate an early-exit setting and return it normalised.

    Args:
        exit_cfg (dict, optional): ``stages`` (positive int or sequence of
            positive ints; default ``(1,)``), ``thresholds`` (a number or a
            non-empty sequence of numbers, not NaN; required) and ``score``
            (``'max'`` default, or ``'margin'``). None: no early exit.
        what (str): the name used in error messages.

    Returns:
        dict | None: ``dict(stages=tuple[int], thresholds=tuple[float],
        score=str)``.

    Raises:
        TypeError, ValueError: naming the key and the value.
    """
    if exit_cfg is None:
        return None
    if not isinstance(exit_cfg, dict):
        raise TypeError(f'{what} must be a dict ({", ".join(EXIT_CFG_KEYS)}) or None, '
                        f'got {type(exit_cfg).__name__}')
    unknown = sorted(set(exit_cfg) - set(EXIT_CFG_KEYS))
    if unknown:
        raise ValueError(f'{what}: unknown key(s) {unknown}; known: {list(EXIT_CFG_KEYS)}')
    stages = exit_cfg.get('stages', (1, ))
    if _is_int(stages):
        stages = (stages, )
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) \
            or not stages or not all(_is_int(s) and s >= 1 for s in stages):
        raise ValueError(f'{what}.stages must be a positive int or a non-empty sequence '
                         f'of positive ints (patches per stage), got {stages!r}')
    if 'thresholds' not in exit_cfg:
        raise ValueError(f'{what}.thresholds is required (a number or one per stage; '
                         'float("inf") never exits early)')
    thresholds = exit_cfg['thresholds']
    if isinstance(thresholds, numbers.Real) and not isinstance(thresholds, bool):
        thresholds = (thresholds, )
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Sequence) \
            or not thresholds or not all(isinstance(t, numbers.Real)
                                         and not isinstance(t, bool)
                                         for t in thresholds):
        raise ValueError(f'{what}.thresholds must be a number or a non-empty sequence '
                         f'of numbers, got {thresholds!r}')
    if any(math.isnan(float(t)) for t in thresholds):
        raise ValueError(f'{what}.thresholds must not be NaN, got {list(thresholds)}')
    score = exit_cfg.get('score', 'max')
    if score not in EXIT_SCORES:
        raise ValueError(f'{what}.score must be one of {EXIT_SCORES}, got {score!r}')
    return dict(stages=tuple(int(s) for s in stages),
                thresholds=tuple(float(t) for t in thresholds), score=score)


def stage_ends(num_patches: int, stages: Sequence[int]) -> List[int]:
    """Patches classified after each stage of an image with ``num_patches``.

    ``stage_ends(7, (1, 2))`` is ``[1, 3, 5, 7]``; the last stage may be
    short. An image with no patch has no stage.
    """
    if not _is_int(num_patches) or num_patches < 0:
        raise ValueError(f'num_patches must be an int >= 0, got {num_patches!r}')
    ends, done, s = [], 0, 0
    while done < num_patches:
        done = min(num_patches, done + int(stages[min(s, len(stages) - 1)]))
        ends.append(done)
        s += 1
    return ends


def stage_threshold(thresholds: Sequence[float], stage: int) -> float:
    """The threshold of ``stage`` (0-based); the last one repeats."""
    return float(thresholds[min(stage, len(thresholds) - 1)])


def confidence(scores: np.ndarray, score: str = 'max') -> np.ndarray:
    """Confidence of score vectors ``(..., K)``: the maximum (``'max'``) or the
    top-1 minus top-2 margin (``'margin'``; the maximum when ``K == 1``)."""
    scores = np.asarray(scores, dtype=np.float64)
    if score == 'max':
        return scores.max(axis=-1)
    if score == 'margin':
        if scores.shape[-1] < 2:
            return scores.max(axis=-1)
        top2 = np.sort(scores, axis=-1)[..., -2:]
        return top2[..., 1] - top2[..., 0]
    raise ValueError(f'score must be one of {EXIT_SCORES}, got {score!r}')


def stops_after(conf: float, stage: int, num_stages: int,
                thresholds: Sequence[float]) -> bool:
    """Whether an image with ``num_stages`` stages stops after ``stage``
    (0-based) with confidence ``conf`` there: it reaches the stage's
    threshold, or its patches run out."""
    return stage >= num_stages - 1 or conf >= stage_threshold(thresholds, stage)


def exit_stage(confidences: Sequence[float], thresholds: Sequence[float]) -> int:
    """The stage (0-based) an image stops after: the first ``s`` with
    ``confidences[s] >= thresholds[s]`` (last threshold repeated), else the
    last stage. ``confidences`` holds one value per stage the image has."""
    if len(confidences) == 0:
        raise ValueError('exit_stage: an image with no stage (no patch)')
    for s, conf in enumerate(confidences):
        if stops_after(conf, s, len(confidences), thresholds):
            return s
    raise AssertionError('unreachable: the last stage always stops')


# --------------------------------------------------------------------------
# offline calibration
# --------------------------------------------------------------------------
@dataclass
class StageTable:
    """Every image's prediction after each stage, padded to ``S`` stages.

    Attributes:
        conf (np.ndarray): ``(N, S)`` confidence after each stage; stages
            past an image's last are ``+inf`` (the image has stopped).
        correct (np.ndarray): ``(N, S)`` bool, top-1 correct after each stage
            (padded with the last stage's value).
        macs (np.ndarray): ``(N, S)`` MACs spent up to and including each
            stage: the localizer plus the patches classified (padded).
        patches (np.ndarray): ``(N, S)`` patches classified (padded).
        num_stages (np.ndarray): ``(N,)`` stages each image has.
    """
    conf: np.ndarray
    correct: np.ndarray
    macs: np.ndarray
    patches: np.ndarray
    num_stages: np.ndarray

    def __len__(self) -> int:
        return int(self.conf.shape[0])


def build_stage_table(patch_scores: Sequence[np.ndarray], labels: Sequence[int],
                      localizer_macs: Sequence[int], patch_macs: Sequence[int],
                      stages: Sequence[int], score: str = 'max') -> StageTable:
    """A :class:`StageTable` from the all-patch predictions of ``N`` images.

    Args:
        patch_scores: per image, ``(n_i, K)`` softmaxes of its ``n_i >= 1``
            patches in LSP order.
        labels: per image, the ground-truth label.
        localizer_macs: per image, the localizer's MACs.
        patch_macs: per image, the classifier's MACs on one of its patches.
        stages: the stage sizes (see :func:`stage_ends`).
        score: ``'max'`` or ``'margin'``.
    """
    if len(patch_scores) == 0:
        raise ValueError('build_stage_table: no images (an empty calibration split)')
    if not (len(patch_scores) == len(labels) == len(localizer_macs) == len(patch_macs)):
        raise ValueError('build_stage_table: patch_scores, labels, localizer_macs and '
                         'patch_macs must have one entry per image')
    per_image = []
    for i, probs in enumerate(patch_scores):
        probs = np.asarray(probs, dtype=np.float64)  # (n, K)
        if probs.ndim != 2 or probs.shape[0] < 1:
            raise ValueError(f'build_stage_table: image {i} has patch scores of shape '
                             f'{probs.shape}, expected (n >= 1, K)')
        ends = np.array(stage_ends(probs.shape[0], stages))  # (S_i,)
        cum = np.cumsum(probs, axis=0)[ends - 1] / ends[:, None]  # (S_i, K)
        per_image.append((confidence(cum, score), cum.argmax(axis=1) == int(labels[i]),
                          int(localizer_macs[i]) + ends * int(patch_macs[i]), ends))
    S = max(len(p[3]) for p in per_image)
    N = len(per_image)
    conf = np.full((N, S), np.inf)
    correct = np.zeros((N, S), dtype=bool)
    macs = np.zeros((N, S), dtype=np.float64)
    patches = np.zeros((N, S), dtype=np.int64)
    for i, (c, ok, m, ends) in enumerate(per_image):
        n = len(ends)
        conf[i, :n] = c
        for arr, val in ((correct, ok), (macs, m), (patches, ends)):
            arr[i, :n] = val
            arr[i, n:] = val[-1]
    return StageTable(conf, correct, macs, patches,
                      np.array([len(p[3]) for p in per_image]))


def exit_stages(table: StageTable, thresholds: Sequence[float]) -> np.ndarray:
    """:func:`exit_stage` of every image of ``table``: ``(N,)`` 0-based."""
    N, S = table.conf.shape
    thr = np.array([stage_threshold(thresholds, s) for s in range(S)])  # (S,)
    last = table.num_stages - 1
    hit = table.conf >= thr[None, :]  # (N, S); padded stages are +inf: a hit
    hit[np.arange(S)[None, :] > last[:, None]] = False
    hit[np.arange(N), last] = True  # the patches run out
    return hit.argmax(axis=1)


def evaluate(table: StageTable, thresholds: Sequence[float]) -> Dict[str, float]:
    """Top-1 (%), mean MACs and mean patches per image when every image
    stops by :func:`exit_stage` with ``thresholds``."""
    stop = exit_stages(table, thresholds)
    rows = np.arange(len(table))
    return dict(top1=100.0 * float(table.correct[rows, stop].mean()),
                macs=float(table.macs[rows, stop].mean()),
                patches=float(table.patches[rows, stop].mean()))


def budget_thresholds(table: StageTable, q: float) -> List[float]:
    """MSDNet's budgeted thresholds: a fraction proportional to ``q^s`` of the
    images (normalised over the ``S`` stages) exits at stage ``s``; each
    threshold is the confidence, among the images still running, that lets
    that many exit (images whose patches run out leave as they must). The
    last stage's threshold is ``inf``."""
    N, S = table.conf.shape
    weights = q ** np.arange(S, dtype=np.float64)
    want = np.cumsum(weights / weights.sum()) * N  # images exited by stage s
    running = np.ones(N, dtype=bool)
    thresholds = []
    for s in range(S - 1):
        active = running & (table.num_stages > s)
        # images whose last stage is s leave anyway
        forced = active & (table.num_stages == s + 1)
        gone = N - running.sum() + forced.sum()
        extra = int(round(want[s] - gone))
        candidates = np.sort(table.conf[active & ~forced, s])[::-1]
        if extra <= 0 or candidates.size == 0:
            thr = math.inf
        else:
            thr = float(candidates[min(extra, candidates.size) - 1])
        thresholds.append(thr)
        running &= ~(active & ((table.conf[:, s] >= thr) | forced))
    thresholds.append(math.inf)
    return thresholds


def decay_thresholds(start: float, decay: float, num_stages: int) -> List[float]:
    """``start * decay ** s`` for the stages ``s = 0 .. num_stages - 1``: a
    threshold that falls from stage to stage (two free parameters). The
    running mean of more patches is a surer prediction at the same
    confidence, so a later stage can exit at a lower one."""
    return [float(start) * float(decay) ** s for s in range(num_stages)]


SWEEP_FAMILIES = ('constant', 'decay', 'budget')


def sweep(table: StageTable, num_constant: int = 41,
          budget_qs: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                        0.9, 1.0, 1.25, 1.5, 2.0),
          families: Sequence[str] = SWEEP_FAMILIES,
          decays: Sequence[float] = (0.9, 0.8, 0.7, 0.6, 0.5)) -> List[dict]:
    """Evaluate candidate threshold vectors on ``table``.

    Candidates: ``inf`` (all patches), 0 (first stage only), and of the
    ``families``: ``'constant'``, one threshold for every stage at
    ``num_constant`` quantiles of the recorded confidences; ``'decay'``,
    :func:`decay_thresholds` from each of those quantiles for every factor
    of ``decays``; ``'budget'``, :func:`budget_thresholds` for every ``q``
    of ``budget_qs`` (one threshold per stage). Returns one dict per
    candidate (``family``, ``param``, ``thresholds``, ``top1``, ``macs``,
    ``patches``; ``decay`` too for the decay family), sorted by MACs.
    """
    if len(table) == 0:
        raise ValueError('sweep: an empty calibration table')
    unknown = sorted(set(families) - set(SWEEP_FAMILIES))
    if unknown:
        raise ValueError(f'sweep: unknown families {unknown}; known: {list(SWEEP_FAMILIES)}')
    finite = table.conf[np.isfinite(table.conf)]
    starts = np.unique(np.quantile(finite, np.linspace(0, 1, num_constant))) \
        if finite.size else np.array([])
    points = [('all patches', None, [math.inf], {}), ('first stage', None, [0.0], {})]
    for t in starts if 'constant' in families else ():
        points.append(('constant', float(t), [float(t)], {}))
    for d in decays if 'decay' in families else ():
        if not 0 < d < 1:
            raise ValueError(f'sweep: a decay factor must be in (0, 1), got {d!r}')
        for t in starts:
            points.append(('decay', float(t), decay_thresholds(t, d, table.conf.shape[1]),
                           dict(decay=float(d))))
    for q in budget_qs if 'budget' in families else ():
        points.append(('budget', float(q), budget_thresholds(table, q), {}))
    results = []
    for family, param, thr, extra in points:
        results.append(dict(family=family, param=param, thresholds=list(thr), **extra,
                            **evaluate(table, thr)))
    results.sort(key=lambda r: (r['macs'], -r['top1']))
    return results


def pareto_front(results: Sequence[dict]) -> List[dict]:
    """The points no other point beats in both top-1 and MACs, by MACs."""
    front, best = [], -math.inf
    for r in sorted(results, key=lambda r: (r['macs'], -r['top1'])):
        if r['top1'] > best:
            front.append(r)
            best = r['top1']
    return front


class UnreachableTarget(ValueError):
    """No swept point meets the calibration target."""


def pick(results: Sequence[dict], target_macs: Optional[float] = None,
         max_top1_drop: Optional[float] = None) -> dict:
    """The swept point for a target: the best top-1 with mean MACs at most
    ``target_macs``, or the fewest MACs with top-1 at least the all-patch
    top-1 minus ``max_top1_drop`` (points). Exactly one target.

    Raises:
        UnreachableTarget: no point meets it; the message names the closest
            reachable point.
    """
    if (target_macs is None) == (max_top1_drop is None):
        raise ValueError('pick: give exactly one of target_macs and max_top1_drop')
    for name, value in (('target_macs', target_macs), ('max_top1_drop', max_top1_drop)):
        if value is not None and (not isinstance(value, numbers.Real)
                                  or math.isnan(value) or value < 0):
            raise ValueError(f'pick: {name} must be a number >= 0, got {value!r}')
    if not results:
        raise ValueError('pick: no swept points')
    if target_macs is not None:
        ok = [r for r in results if r['macs'] <= target_macs]
        if not ok:
            cheapest = min(results, key=lambda r: r['macs'])
            raise UnreachableTarget(
                f'no threshold reaches {target_macs / 1e9:.4f} GMACs per image: the '
                f'cheapest point ({describe(cheapest)}) needs '
                f'{cheapest["macs"] / 1e9:.4f} GMACs at top-1 {cheapest["top1"]:.2f}%')
        return max(ok, key=lambda r: (r['top1'], -r['macs']))
    full = next(r for r in results if r['family'] == 'all patches')
    floor = full['top1'] - max_top1_drop
    ok = [r for r in results if r['top1'] >= floor - 1e-9]
    # the all-patch point is always there, so ok is never empty
    return min(ok, key=lambda r: (r['macs'], -r['top1']))


def describe(result: dict) -> str:
    """A short name of a swept point."""
    if result['family'] in ('all patches', 'first stage'):
        return result['family']
    if result['family'] == 'constant':
        return f'one threshold {result["param"]:.4f}'
    if result['family'] == 'decay':
        return f'threshold {result["param"]:.4f} x {result["decay"]:g}^stage'
    return f'budget q={result["param"]:g}'


def format_thresholds(thresholds: Sequence[float]) -> str:
    """A Python literal of a threshold list (``float('inf')`` spelled out,
    every float exact: the config reproduces the calibration's exits), with
    trailing repeats of the last value dropped."""
    thr = list(thresholds)
    while len(thr) > 1 and thr[-1] == thr[-2]:
        thr.pop()
    return '[' + ', '.join("float('inf')" if math.isinf(t) else repr(float(t))
                           for t in thr) + ']'


def threshold_tuple(values: Union[float, Sequence[float]]) -> Tuple[float, ...]:
    """``values`` as a tuple of floats (a number becomes a 1-tuple)."""
    if isinstance(values, numbers.Real):
        return (float(values), )
    return tuple(float(v) for v in values)
