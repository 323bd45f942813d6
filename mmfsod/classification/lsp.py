"""Receptive-field geometry, AnchorNet's decision rule and LSP (Algorithm 1).

Plain python / numpy, no registry and no tensor framework: the functions here
are the exact, easily tested core that the AnchorNet head and the LSP hook
wrap. Paper: Yang et al., "Localizing Semantic Patches for Accelerating Image
Classification" (ICME 2022), see ``design/paper-notes.md`` section 2.

Geometry (paper section 3.1)
    A chain of layers, each ``(k, s, p)`` or ``(k, s, p, d)`` (kernel, stride,
    padding, dilation; square, the same along both axes), maps output location
    ``i`` of its last layer to the input pixels ``[offset + stride * i,
    offset + stride * i + rf)`` along each axis, where :func:`receptive_field`
    accumulates ``rf``, ``stride`` (the "jump") and ``offset``. With padding 0
    everywhere ``offset == 0`` and an ``H x W`` input gives
    ``(floor((H - rf) / stride) + 1) x (floor((W - rf) / stride) + 1)``
    locations; location ``(i, j)`` (row, column) maps to the box
    ``[x1, y1, x2, y2] = [s*j, s*i, s*j + rf, s*i + rf]``. Boxes are half-open
    pixel ranges (``x2`` and ``y2`` excluded), so ``(x2 - x1) * (y2 - y1)`` is
    the number of pixels, as eq. (9) counts them.

    Only the convolutional footprint is modelled: image-global operations
    (SE gates, softmax attention, GAP) are ignored, as in the paper.

Decision rule, eqs. (6)-(8)
    :func:`decide` picks the final class ``gamma`` and branch ``theta`` from
    the branches' probability vectors.

LSP, Algorithm 1
    :func:`localize_semantic_patches` selects at most ``K`` partly separated
    patches from the chosen branch's heatmap ``M_theta = F_theta[:, :, gamma]``.
    :data:`VISUALISATION` and :data:`DOWNSTREAM` are the paper's two settings.
"""
import math
import numbers
from dataclasses import dataclass
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

LayerSpec = Tuple[int, ...]  # (k, s, p) or (k, s, p, d)

# The paper's LSP settings (section 4.1), per branch name; each value holds
# the keyword arguments ``k_max``, ``iou_thr`` and ``coverage`` of
# :func:`localize_semantic_patches`, e.g.
# ``localize_semantic_patches(heatmap, boxes, **VISUALISATION['B63'])``.
VISUALISATION: Mapping[str, Mapping[str, Union[int, float]]] = MappingProxyType({
    'B63': MappingProxyType(dict(k_max=5, iou_thr=0.3, coverage=0.05)),
    'B95': MappingProxyType(dict(k_max=3, iou_thr=0.3, coverage=0.04)),
    'B111': MappingProxyType(dict(k_max=2, iou_thr=0.3, coverage=0.03)),
})
# The "slacker" setting used to produce patches for downstream classifiers.
# At 224 it always returns exactly K patches: two patches one stride (8 px)
# apart have IoU 55/71 = 0.77 (B63), 87/103 = 0.84 (B95), 103/119 = 0.87
# (B111), so T = 0.8 suppresses nothing in B63 and only the 4 direct
# neighbours in B95/B111, and the first 30 % of locations hold far more than
# K compatible ones. (The paper's 5.6/2.9/2.1 test patches per image match
# neither published setting: the visualisation one caps B63 at 5.)
DOWNSTREAM: Mapping[str, Mapping[str, Union[int, float]]] = MappingProxyType({
    'B63': MappingProxyType(dict(k_max=24, iou_thr=0.8, coverage=0.3)),
    'B95': MappingProxyType(dict(k_max=10, iou_thr=0.8, coverage=0.3)),
    'B111': MappingProxyType(dict(k_max=8, iou_thr=0.8, coverage=0.3)),
})
LSP_SETTINGS: Mapping[str, Mapping[str, Mapping[str, Union[int, float]]]] = \
    MappingProxyType(dict(visualisation=VISUALISATION, downstream=DOWNSTREAM))
SETTING_KEYS = ('k_max', 'iou_thr', 'coverage')


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# --------------------------------------------------------------------------
# Receptive-field geometry
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceptiveField:
    """Accumulated geometry of a chain of layers (one axis; square layers).

    Attributes:
        rf (int): receptive field (patch side) of one output location.
        stride (int): distance in input pixels between two neighbouring
            output locations (the accumulated stride, or "jump").
        offset (int): input coordinate of the first pixel of output location
            0's patch; ``0`` for padding-free chains, negative with padding.
    """
    rf: int
    stride: int
    offset: int


def _check_layer(index: int, layer) -> Tuple[int, int, int, int]:
    """Validate one layer spec and return ``(k, s, p, d)``."""
    if not isinstance(layer, (tuple, list)) or len(layer) not in (3, 4):
        raise ValueError(f'layer {index}: a layer spec is (kernel, stride, padding) '
                         f'or (kernel, stride, padding, dilation), got {layer!r}')
    k, s, p = layer[:3]
    d = layer[3] if len(layer) == 4 else 1
    for name, value, low in (('kernel', k, 1), ('stride', s, 1), ('padding', p, 0),
                             ('dilation', d, 1)):
        if not _is_int(value) or value < low:
            raise ValueError(f'layer {index}: {name} must be an integer >= {low}, '
                             f'got {value!r}')
    return int(k), int(s), int(p), int(d)


def receptive_field(layers: Sequence[LayerSpec]) -> ReceptiveField:
    """Accumulate receptive field, stride and offset through ``layers``.

    For layer ``l`` with kernel ``k``, stride ``s``, padding ``p`` and dilation
    ``d`` (effective kernel ``k' = d * (k - 1) + 1``), starting from
    ``rf = 1, stride = 1, offset = 0`` (the input pixels themselves)::

        rf     <- rf + (k' - 1) * stride
        offset <- offset - p * stride
        stride <- stride * s

    Args:
        layers (Sequence[tuple]): ``(k, s, p)`` or ``(k, s, p, d)`` per layer,
            in execution order. An empty chain is the identity.

    Returns:
        ReceptiveField: ``rf``, ``stride`` and ``offset`` of the last layer.

    Example:
        >>> receptive_field([(3, 2, 0), (3, 2, 0), (3, 2, 0)])
        ReceptiveField(rf=15, stride=8, offset=0)
    """
    rf, jump, offset = 1, 1, 0
    for index, layer in enumerate(layers):
        k, s, p, d = _check_layer(index, layer)
        rf += d * (k - 1) * jump
        offset -= p * jump
        jump *= s
    return ReceptiveField(rf=rf, stride=jump, offset=offset)


def output_size(size: int, layers: Sequence[LayerSpec], name: str = 'chain') -> int:
    """Spatial size after ``layers`` for an input of ``size`` pixels (one axis).

    Walks the layers one by one (``n <- floor((n + 2p - k') / s) + 1``); for a
    padding-free chain this equals ``floor((size - rf) / stride) + 1``.

    Raises:
        ValueError: if ``size`` is smaller than the chain's receptive field, or
            a layer's (padded) input is smaller than its kernel; the message
            names ``name`` and the sizes.
    """
    if not _is_int(size) or size < 1:
        raise ValueError(f'{name}: input size must be a positive integer, got {size!r}')
    geo = receptive_field(layers)
    if geo.offset == 0 and size < geo.rf:
        raise ValueError(f'{name}: input size {size} is smaller than its receptive '
                         f'field {geo.rf}')
    n = int(size)
    for index, layer in enumerate(layers):
        k, s, p, d = _check_layer(index, layer)
        k_eff = d * (k - 1) + 1
        if n + 2 * p < k_eff:
            raise ValueError(f'{name}: input size {size} is too small: layer {index} '
                             f'gets {n} (+2*{p} padding) < kernel {k_eff}')
        n = (n + 2 * p - k_eff) // s + 1
    return n


def patch_boxes(map_size: Tuple[int, int], rf: int, stride: int,
                offset: int = 0) -> np.ndarray:
    """Image boxes of every location of an ``h x w`` map, row-major.

    Args:
        map_size (tuple[int, int]): ``(h, w)`` of the feature map.
        rf (int): receptive field (box side).
        stride (int): accumulated stride.
        offset (int): see :class:`ReceptiveField`; boxes are not clipped.

    Returns:
        np.ndarray: ``(h * w, 4)`` int64 boxes ``[x1, y1, x2, y2]``; row
        ``i * w + j`` is location ``(i, j)``:
        ``[offset + s*j, offset + s*i, offset + s*j + rf, offset + s*i + rf]``,
        the order of ``heatmap.ravel()``.
    """
    h, w = map_size
    ii, jj = np.meshgrid(np.arange(h, dtype=np.int64), np.arange(w, dtype=np.int64),
                         indexing='ij')  # (h, w) each
    x1 = (offset + stride * jj).ravel()
    y1 = (offset + stride * ii).ravel()
    return np.stack([x1, y1, x1 + rf, y1 + rf], axis=1)  # (h*w, 4)


@dataclass(frozen=True)
class BranchGeometry:
    """Where every location of one branch's map lies in the input image.

    Attributes:
        name (str): branch name, e.g. ``'B63'``.
        input_size (tuple[int, int]): ``(H, W)`` of the input image.
        map_size (tuple[int, int]): ``(h, w)`` of the branch's feature map.
        rf (int): receptive field, the side of every box.
        stride (int): accumulated stride between neighbouring locations.
        offset (int): see :class:`ReceptiveField` (0 without padding).
        boxes (np.ndarray): ``(h * w, 4)`` int64 ``[x1, y1, x2, y2]``,
            row-major (see :func:`patch_boxes`).
    """
    name: str
    input_size: Tuple[int, int]
    map_size: Tuple[int, int]
    rf: int
    stride: int
    offset: int
    boxes: np.ndarray

    @property
    def num_locations(self) -> int:
        return self.map_size[0] * self.map_size[1]


def branch_geometry(input_size: Union[int, Tuple[int, int]],
                    branches: Mapping[str, Sequence[LayerSpec]]
                    ) -> Dict[str, BranchGeometry]:
    """Map size, receptive field, stride and boxes of each branch.

    Args:
        input_size (int | tuple[int, int]): ``(H, W)`` of the input image, or
            one int for a square image.
        branches (Mapping[str, Sequence[tuple]]): branch name -> the full layer
            chain from the image to the branch's output (``(k, s, p[, d])``
            each), e.g. ``AnchorNet.layer_specs(name)``.

    Returns:
        dict[str, BranchGeometry]: in the order of ``branches``.

    Raises:
        ValueError: if the image is smaller than a branch's receptive field
            (the message names the branch and both sizes).
    """
    if _is_int(input_size):
        input_size = (input_size, input_size)
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 2
            or not all(_is_int(v) and v >= 1 for v in input_size)):
        raise ValueError(f'input_size must be (H, W) of positive integers, '
                         f'got {input_size!r}')
    H, W = int(input_size[0]), int(input_size[1])
    out = {}
    for name, layers in branches.items():
        geo = receptive_field(layers)
        if geo.offset == 0 and (H < geo.rf or W < geo.rf):
            raise ValueError(f'branch {name!r}: input {H}x{W} is smaller than its '
                             f'receptive field {geo.rf}x{geo.rf}')
        h = output_size(H, layers, name=f'branch {name!r} (height)')
        w = output_size(W, layers, name=f'branch {name!r} (width)')
        out[name] = BranchGeometry(name=name, input_size=(H, W), map_size=(h, w),
                                   rf=geo.rf, stride=geo.stride, offset=geo.offset,
                                   boxes=patch_boxes((h, w), geo.rf, geo.stride,
                                                     geo.offset))
    return out


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU (eq. 9) of one box ``(4,)`` against ``boxes`` ``(N, 4)``.

    Boxes are half-open pixel ranges ``[x1, y1, x2, y2]``, so areas are pixel
    counts: ``|A| = (x2 - x1) * (y2 - y1)``. Returns ``(N,)`` float64.
    """
    box = np.asarray(box, dtype=np.float64)  # (4,)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)  # (N, 4)
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]),
                 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]),
                 0, None)
    inter = iw * ih  # (N,)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])  # (N,)
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


# --------------------------------------------------------------------------
# Decision rule, eqs. (6)-(8)
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """Output of :func:`decide`.

    For a single image ``label`` is an int and ``branch`` a str; for a batch
    of ``B`` images ``label`` is an ``(B,)`` int64 array and ``branch`` a
    list of ``B`` names.

    Attributes:
        label: final class ``gamma`` (eq. 7).
        branch: chosen branch ``theta`` (eq. 8).
        branch_labels (dict): branch -> ``Y^j`` (eq. 6), int or ``(B,)``.
        branch_max (dict): branch -> ``P^j`` (eq. 6), float or ``(B,)``.
    """
    label: Union[int, np.ndarray]
    branch: Union[str, List[str]]
    branch_labels: Dict[str, Union[int, np.ndarray]]
    branch_max: Dict[str, Union[float, np.ndarray]]


def _decide_one(probs: np.ndarray, min_votes: int) -> Tuple[int, int]:
    """Eqs. (6)-(8) for one image; ``probs`` is ``(J, num_classes)``.

    Returns ``(gamma, index of theta along J)``.
    """
    y = probs.argmax(axis=1)  # (J,) eq. 6, lowest class index on ties
    p = probs.max(axis=1)  # (J,)
    # eq. 7: the class that at least ``min_votes`` branches predict
    classes, votes = np.unique(y, return_counts=True)  # sorted by class index
    winners = classes[votes == votes.max()] if votes.max() >= min_votes else []
    if len(winners) == 1:
        gamma = int(winners[0])
    elif len(winners) > 1:
        # Only possible with >= 2 * min_votes branches: the tied class whose
        # most confident supporting branch is most confident; then the lower
        # class index.
        support = [p[y == c].max() for c in winners]
        gamma = int(winners[int(np.argmax(support))])
    else:
        gamma = int(y[int(np.argmax(p))])  # first branch on equal P^j
    # eq. 8: among branches with P^j == B^j_gamma, the largest P^j; first
    # branch (in ``names`` order) on ties.
    candidate = probs[:, gamma] == p  # (J,)
    theta = int(np.argmax(np.where(candidate, p, -np.inf)))
    return gamma, theta


def decide(branch_probs: Mapping[str, np.ndarray], min_votes: int = 2) -> Decision:
    """Final class and localization branch, AnchorNet eqs. (6)-(8).

    Per branch ``j``: ``Y^j = argmax_y B^j_y``, ``P^j = max_y B^j_y`` (eq. 6).
    The class ``gamma`` is the class predicted by at least ``min_votes``
    branches (the paper writes "> 2"; with three branches this is read as
    "at least 2 agree", the project default); otherwise the class of the
    most confident branch, ``Y^{argmax_j P^j}`` (eq. 7). The branch ``theta``
    is, among the branches whose maximum equals their probability of
    ``gamma`` (``P^j == B^j_gamma``, i.e. branches predicting ``gamma``), the
    one with the largest ``P^j`` (eq. 8).

    Deterministic tie-breaking:

    * ``Y^j``: the lowest class index among equal maxima (``np.argmax``);
    * equal ``P^j`` (no majority, or choosing ``theta``): the branch that
      comes first in ``branch_probs`` (insertion order; for AnchorNet
      ``B63``, ``B95``, ``B111``);
    * several classes with the same, sufficient number of votes (only
      possible with four or more branches): the class whose most confident
      supporting branch is most confident, then the lower class index.
    * eq. 8 is applied literally: a branch whose maximum is tied between
      ``gamma`` and a lower class index (so ``Y^j != gamma``) still
      qualifies for ``theta``.

    The values are compared across branches, so they should be
    probabilities (softmax outputs); they are not required to sum to 1.

    Args:
        branch_probs (Mapping[str, array-like]): branch name -> ``(C,)``
            probabilities of one image, or ``(B, C)`` for a batch; all
            branches the same shape. CPU tensors are accepted.
        min_votes (int): agreeing branches needed for a majority. Default 2.

    Returns:
        Decision: see :class:`Decision`.

    Raises:
        ValueError: no branch, shapes that differ or are not 1-D/2-D, zero
            classes, NaN or infinite values (naming the branch), or
            ``min_votes < 1``.
    """
    if not _is_int(min_votes) or min_votes < 1:
        raise ValueError(f'min_votes must be an integer >= 1, got {min_votes!r}')
    if len(branch_probs) == 0:
        raise ValueError('decide: branch_probs is empty')
    names = list(branch_probs)
    arrays = []
    for name in names:
        a = np.asarray(branch_probs[name], dtype=np.float64)
        if a.ndim not in (1, 2) or a.shape[-1] == 0:
            raise ValueError(f'decide: branch {name!r} probabilities must be (C,) or '
                             f'(B, C) with C >= 1, got shape {a.shape}')
        if not np.all(np.isfinite(a)):
            kind = 'NaN' if np.isnan(a).any() else 'infinite'
            raise ValueError(f'decide: branch {name!r} probabilities contain {kind} '
                             f'values')
        if arrays and a.shape != arrays[0].shape:
            raise ValueError(f'decide: branch {name!r} has shape {a.shape}, branch '
                             f'{names[0]!r} has {arrays[0].shape}')
        arrays.append(a)
    stacked = np.stack(arrays, axis=-2)  # (J, C) or (B, J, C)
    if stacked.ndim == 2:
        gamma, theta = _decide_one(stacked, min_votes)
        return Decision(label=gamma, branch=names[theta],
                        branch_labels={n: int(a.argmax())
                                       for n, a in zip(names, arrays)},
                        branch_max={n: float(a.max()) for n, a in zip(names, arrays)})
    labels, branches = [], []
    for probs in stacked:  # (J, C)
        gamma, theta = _decide_one(probs, min_votes)
        labels.append(gamma)
        branches.append(names[theta])
    return Decision(label=np.asarray(labels, dtype=np.int64).reshape(-1),
                    branch=branches,
                    branch_labels={n: a.argmax(axis=1) for n, a in zip(names, arrays)},
                    branch_max={n: a.max(axis=1) for n, a in zip(names, arrays)})


def resolve_setting(setting: Union[str, Mapping[str, Mapping[str, Union[int, float]]]],
                    branch_names: Optional[Sequence[str]] = None
                    ) -> Dict[str, Dict[str, Union[int, float]]]:
    """Validate an LSP setting and return it as branch -> LSP arguments.

    Args:
        setting (str | Mapping): ``'visualisation'`` or ``'downstream'`` (the
            paper's settings, :data:`mmfsod.classification.LSP_SETTINGS`),
            or a dict ``branch name -> dict(k_max=K, iou_thr=T, coverage=P)``.
        branch_names (Sequence[str], optional): the model's branches; when
            given, the setting must name exactly these.

    Returns:
        dict: branch -> ``dict(k_max=int, iou_thr=float, coverage=float)``.

    Raises:
        ValueError: an unknown setting name, an unknown or missing branch, a
            missing or extra key, ``K < 1`` (or not an int), ``T`` or ``P``
            outside ``(0, 1]`` -- the message names the branch and the key.
        TypeError: a setting that is neither a name nor a mapping.
    """
    if isinstance(setting, str):
        if setting not in LSP_SETTINGS:
            raise ValueError(f'LSP setting {setting!r} is unknown; choose from '
                             f'{sorted(LSP_SETTINGS)} or give a dict branch name '
                             f'-> dict(k_max=K, iou_thr=T, coverage=P)')
        table = LSP_SETTINGS[setting]
    elif isinstance(setting, Mapping):
        table = setting
    else:
        raise TypeError(f'LSP setting must be a name {sorted(LSP_SETTINGS)} or a '
                        f'dict branch name -> dict(k_max, iou_thr, coverage), got '
                        f'{type(setting).__name__}')
    if not table:
        raise ValueError('LSP setting: the dict names no branch')
    if branch_names is not None:
        names = tuple(branch_names)
        unknown = [n for n in table if n not in names]
        if unknown:
            raise ValueError(f'LSP setting: unknown branch name(s) {unknown}; the '
                             f"model's branches are {list(names)}")
        missing = [n for n in names if n not in table]
        if missing:
            raise ValueError(f'LSP setting: no arguments for branch(es) {missing} '
                             f'(the model has {list(names)})')
    else:
        names = tuple(table)
    out = {}
    for name in names:
        entry = table[name]
        if not isinstance(entry, Mapping) or set(entry) != set(SETTING_KEYS):
            got = sorted(entry) if isinstance(entry, Mapping) else entry
            raise ValueError(f'LSP setting, branch {name!r}: expected exactly the keys '
                             f'{list(SETTING_KEYS)}, got {got!r}')
        k_max, iou_thr, coverage = (entry[k] for k in SETTING_KEYS)
        if not _is_int(k_max) or k_max < 1:
            raise ValueError(f'LSP setting, branch {name!r}: k_max (K) must be an '
                             f'integer >= 1, got {k_max!r}')
        for key, value, what in (('iou_thr', iou_thr, 'T'),
                                 ('coverage', coverage, 'P')):
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or not 0 < value <= 1):
                raise ValueError(f'LSP setting, branch {name!r}: {key} ({what}) '
                                 f'must be in (0, 1], got {value!r}')
        out[name] = dict(k_max=int(k_max), iou_thr=float(iou_thr),
                         coverage=float(coverage))
    return out


# --------------------------------------------------------------------------
# LSP, Algorithm 1
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class LSPResult:
    """Patches chosen by :func:`localize_semantic_patches`, in selection order.

    Attributes:
        indices (np.ndarray): ``(n,)`` int64 row-major location indices
            (``i * w + j``) into the heatmap, ``1 <= n <= k_max``.
        boxes (np.ndarray): ``(n, 4)`` ``[x1, y1, x2, y2]`` image boxes.
        activations (np.ndarray): ``(n,)`` heatmap values, non-increasing.
        num_visited (int): locations considered, ``max(1, floor(H*W*P))``.
    """
    indices: np.ndarray
    boxes: np.ndarray
    activations: np.ndarray
    num_visited: int


def num_candidates(num_locations: int, coverage: float) -> int:
    """Locations LSP visits: ``floor(num_locations * coverage)``, at least 1.

    The product is rounded to 9 decimals before the floor so that binary
    rounding does not lose one (``100 * 0.29 = 28.999999999999996`` -> 29).
    """
    return max(1, math.floor(round(num_locations * coverage, 9)))


def localize_semantic_patches(heatmap: np.ndarray,
                              boxes: Union[np.ndarray, BranchGeometry],
                              k_max: int,
                              iou_thr: float,
                              coverage: float) -> LSPResult:
    """Localize semantic patches, Algorithm 1 (LSP).

    1. Sort the ``H * W`` locations of ``heatmap`` by activation, descending.
       The sort is stable: equal activations keep row-major order (lower
       ``i * W + j`` first).
    2. Take the first location's patch.
    3. Visit the next ``floor(H * W * coverage) - 1`` locations in that order
       (see :func:`num_candidates`); take a location's patch only if its IoU
       (eq. 9) with every patch taken so far is ``< iou_thr``.
    4. Stop as soon as ``k_max`` patches are taken.

    Args:
        heatmap (array-like): ``(H, W)`` activations ``M_theta``, finite.
        boxes (np.ndarray | BranchGeometry): ``(H * W, 4)`` image boxes in
            row-major order (:func:`patch_boxes`), or the branch's geometry
            (its ``map_size`` must be ``(H, W)``).
        k_max (int): ``K``, most patches to return, ``>= 1``.
        iou_thr (float): ``T``, in ``(0, 1]``; a patch is rejected when its
            IoU with a taken one is ``>= T``. ``T = 1`` rejects only
            identical boxes.
        coverage (float): ``P``, fraction of locations visited, in ``(0, 1]``.

    Returns:
        LSPResult: indices, boxes and activations of the taken patches.

    Raises:
        ValueError: ``k_max``/``iou_thr``/``coverage`` out of range, a heatmap
            that is not 2-D, is empty, or holds NaN/inf, or boxes of the wrong
            shape.
    """
    if not _is_int(k_max) or k_max < 1:
        raise ValueError(f'LSP: k_max (K) must be an integer >= 1, got {k_max!r}')
    if not isinstance(iou_thr, numbers.Real) or not 0 < iou_thr <= 1:
        raise ValueError(f'LSP: iou_thr (T) must be in (0, 1], got {iou_thr!r}')
    if not isinstance(coverage, numbers.Real) or not 0 < coverage <= 1:
        raise ValueError(f'LSP: coverage (P) must be in (0, 1], got {coverage!r}')
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2 or heatmap.size == 0:
        raise ValueError(f'LSP: heatmap must be a non-empty (H, W) array, got shape '
                         f'{heatmap.shape}')
    heatmap = heatmap.astype(np.float64)
    if not np.all(np.isfinite(heatmap)):
        kind = 'NaN' if np.isnan(heatmap).any() else 'infinite'
        raise ValueError(f'LSP: heatmap contains {kind} values')
    if isinstance(boxes, BranchGeometry):
        if tuple(boxes.map_size) != heatmap.shape:
            raise ValueError(f'LSP: heatmap shape {heatmap.shape} does not match '
                             f'branch {boxes.name!r} map size {boxes.map_size}')
        boxes = boxes.boxes
    boxes = np.asarray(boxes)
    if boxes.shape != (heatmap.size, 4):
        raise ValueError(f'LSP: boxes must be (H*W, 4) = ({heatmap.size}, 4) for a '
                         f'{heatmap.shape} heatmap, got {boxes.shape}')

    flat = heatmap.ravel()  # (H*W,)
    order = np.argsort(-flat, kind='stable')  # (H*W,) descending, stable
    n_visit = num_candidates(flat.size, coverage)
    taken: List[int] = [int(order[0])]
    for idx in order[1:n_visit]:
        if len(taken) == k_max:
            break
        if np.all(box_iou(boxes[idx], boxes[taken]) < iou_thr):
            taken.append(int(idx))
    indices = np.asarray(taken, dtype=np.int64)  # (n,)
    return LSPResult(indices=indices, boxes=boxes[indices].copy(),
                     activations=flat[indices], num_visited=n_visit)


__all__ = [
    'BranchGeometry', 'Decision', 'DOWNSTREAM', 'LSPResult', 'LSP_SETTINGS',
    'ReceptiveField', 'VISUALISATION', 'box_iou', 'branch_geometry', 'decide',
    'localize_semantic_patches', 'num_candidates', 'output_size', 'patch_boxes',
    'receptive_field', 'resolve_setting', 'SETTING_KEYS'
]
