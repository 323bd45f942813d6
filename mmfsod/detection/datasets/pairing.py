"""The pairing rule of :class:`QuerySupportDataset`, as plain functions.

A training pair of query image ``q`` is N-way: one *positive* class (a class
of ``q`` with supports) and N - 1 *negative* classes. The rule:

* the negatives of ``q`` are drawn among the classes that have supports and
  no instance in ``q`` (:func:`negative_candidates`), with repetition when
  fewer than N - 1 are left;
* when none is left (``q`` shows every class that has supports: common with
  a handful of base classes), the pair of ``q`` has fewer ways: the positive
  class alone, a 1-way pair (:func:`pair_ways`). Its N x K support slots
  are filled by repeating the positive's supports, marked ``is_repeat``, so
  that every item of a batch has the same number of supports; the detector
  makes one (positive) pair of it, as with ``num_support_ways=1``;
* such queries are counted (:func:`fewer_way_queries`) and logged once when
  the dataset is built; when *no* query has a negative (e.g. one class with
  supports), N-way pairs with N >= 2 are impossible: an error at build time
  that names ``num_support_ways`` (:func:`check_pairs_possible`).
"""
from typing import Iterable, List, Optional, Sequence

import numpy as np


def negative_candidates(support_classes: Iterable[int], present: Iterable[int]) -> List[int]:
    """The classes a query may take negatives from, in ascending order: the
    classes with supports that have no instance in the query image (an
    ignored or too-small instance counts as present)."""
    return sorted(set(support_classes) - set(present))


def pair_ways(num_ways: int, num_candidates: int) -> int:
    """The ways of a query's pair: ``num_ways``, or 1 (the positive class
    alone) when ``num_ways >= 2`` and no negative class is left."""
    return num_ways if num_ways == 1 or num_candidates else 1


def draw_negatives(rng: np.random.Generator, candidates: Sequence[int],
                   num_ways: int) -> List[int]:
    """The ``num_ways - 1`` negative classes of a pair drawn from
    ``candidates`` (distinct when there are enough, else with repetition);
    none (and nothing drawn from ``rng``) for a 1-way pair or when no
    candidate is left."""
    num_neg = num_ways - 1
    if not num_neg or not len(candidates):
        return []
    return [int(c) for c in rng.choice(candidates, num_neg,
                                       replace=len(candidates) < num_neg)]


def fewer_way_queries(support_classes: Iterable[int], query_present: Sequence[Iterable[int]],
                      num_ways: int) -> List[int]:
    """Indices (into ``query_present``) of the queries whose pairs have fewer
    ways than ``num_ways`` because no negative class is left for them."""
    if num_ways < 2:
        return []
    support_classes = set(support_classes)
    return [q for q, present in enumerate(query_present)
            if not negative_candidates(support_classes, present)]


def check_pairs_possible(num_queries: int, num_fewer: int, num_ways: int,
                         support_classes: Sequence[str], where: str,
                         example: Optional[str] = None) -> None:
    """Raise ``ValueError`` when no query can make a pair with a negative
    (every one of the ``num_queries`` falls back to fewer ways) while
    ``num_ways >= 2``; the message names the setting to change."""
    if num_ways < 2 or not num_queries or num_fewer < num_queries:
        return
    raise ValueError(
        f'{where}: no {num_ways}-way pair is possible: every one of the {num_queries} '
        f'query images shows every class with supports ({list(support_classes)})'
        + (f', e.g. {example}' if example else '')
        + ', so no negative class is left; set num_support_ways=1 in the '
        'QuerySupportDataset config (train_dataloader.dataset.num_support_ways) or '
        'give it more classes with supports (classes / class_splits of its dataset)')
