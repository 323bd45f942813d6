"""Classify the patches of a batch of images in stages, with early exit.

The tensor side of :mod:`mmfsod.classification.early_exit`: every image of a
batch brings its patches (LSP order); all images go through the stages
together, each stage is one batched forward per patch size over the images
still running, and an image drops out when
:func:`~mmfsod.classification.early_exit.stops_after` says so. Without an
exit setting there is one stage holding every patch: all images' patches of
one size go through the classifier in one forward (chunked by
``max_batch``), which is the all-patch pipeline batched across images.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ... import early_exit


@dataclass
class StagedResult:
    """What :func:`classify_in_stages` gives for one image.

    Attributes:
        probs (torch.Tensor): ``(n_used, K)`` softmaxes of the patches that
            were classified, in the given order.
        exit_stage (int): the stage (0-based) the image stopped after.
        num_stages (int): the stages the image had.
    """
    probs: torch.Tensor
    exit_stage: int
    num_stages: int


def _forward(logits_fn: Callable[[torch.Tensor], torch.Tensor],
             chunks: Sequence[torch.Tensor], max_batch: Optional[int]) -> List[torch.Tensor]:
    """Softmaxes of every chunk ``(n_j, C, h, w)`` of one size through one
    batched forward (split into ``max_batch`` pieces); one ``(n_j, K)`` each."""
    batch = torch.cat(list(chunks))  # (sum n_j, C, h, w)
    step = batch.size(0) if not max_batch else int(max_batch)
    probs = torch.cat([logits_fn(batch[k:k + step]).softmax(dim=-1)
                       for k in range(0, batch.size(0), step)])  # (sum n_j, K)
    return list(probs.split([c.size(0) for c in chunks]))


def classify_in_stages(logits_fn: Callable[[torch.Tensor], torch.Tensor],
                       patches: Sequence[torch.Tensor],
                       exit_cfg: Optional[dict] = None,
                       max_batch: Optional[int] = None) -> List[StagedResult]:
    """Classify every image's patches, stage by stage.

    Args:
        logits_fn: ``(n, C, h, w) -> (n, K)`` logits (the classifier).
        patches: per image, ``(n_i, C, s_i, s_i)`` patches in LSP order,
            ``n_i >= 1``; images may differ in size ``s_i``.
        exit_cfg (dict, optional): a setting checked by
            :func:`~mmfsod.classification.early_exit.check_exit_cfg`; None
            classifies every patch (one stage).
        max_batch (int, optional): the most patches in one forward.

    Returns:
        list[StagedResult]: one per image.
    """
    B = len(patches)
    for i, p in enumerate(patches):
        if p.dim() != 4 or p.size(0) < 1:
            raise ValueError(f'classify_in_stages: image {i} has patches of shape '
                             f'{tuple(p.shape)}, expected (n >= 1, C, h, w)')
    if exit_cfg is None:
        ends = [[p.size(0)] for p in patches]
        thresholds: Tuple[float, ...] = (float('inf'), )
        score = 'max'
    else:
        ends = [early_exit.stage_ends(p.size(0), exit_cfg['stages']) for p in patches]
        thresholds, score = exit_cfg['thresholds'], exit_cfg['score']
    probs: List[List[torch.Tensor]] = [[] for _ in range(B)]
    done = [0] * B
    exits: Dict[int, int] = {}
    stage = 0
    running = list(range(B))
    while running:
        by_size: Dict[Tuple[int, ...], List[int]] = {}
        for i in running:
            by_size.setdefault(tuple(patches[i].shape[1:]), []).append(i)
        for members in by_size.values():
            chunks = [patches[i][done[i]:ends[i][stage]] for i in members]
            for i, p in zip(members, _forward(logits_fn, chunks, max_batch)):
                probs[i].append(p)
        still = []
        for i in running:
            done[i] = ends[i][stage]
            if exit_cfg is None:
                stop = True
            else:
                used = torch.cat(probs[i]).detach().double().cpu().numpy()  # (n_s, K)
                # the cumulative sum, as the calibration table adds them
                conf = float(early_exit.confidence(
                    np.cumsum(used, axis=0)[-1] / used.shape[0], score))
                stop = early_exit.stops_after(conf, stage, len(ends[i]), thresholds)
            if stop:
                exits[i] = stage
            else:
                still.append(i)
        running = still
        stage += 1
    return [StagedResult(torch.cat(probs[i]), exits[i], len(ends[i])) for i in range(B)]


def stage_cumulative_scores(probs: torch.Tensor, stages: Sequence[int]) -> np.ndarray:
    """``(S, K)`` normalised sums of softmaxes after each stage of one image's
    ``(n, K)`` patch softmaxes (what the exit rule looks at)."""
    p = probs.detach().double().cpu().numpy()
    ends = np.array(early_exit.stage_ends(p.shape[0], stages))
    return np.cumsum(p, axis=0)[ends - 1] / ends[:, None]
