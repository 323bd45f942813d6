"""One AnchorNet prediction -> one LSP patch record (and optional pictures).

The single code path shared by :class:`~.lsp_hook.LSPHook` (the test / val
loop) and :class:`~mmfsod.classification.apis.LSPInferencer` (a folder of
images): :class:`LSPRecorder` takes a predicted :class:`DataSample` of
:class:`~mmfsod.classification.models.AnchorNetHead` (``branch`` = theta,
eq. 8; ``pred_label`` = gamma, eq. 7; ``heatmap`` = ``F_theta[gamma]``),
looks up the chosen branch's geometry for the sample's input size (cached per
size) and runs LSP (Algorithm 1,
:func:`mmfsod.classification.lsp.localize_semantic_patches`) with the chosen
setting. The record, one JSON object per image, is::

    {"img_path": str, "sample_idx": int,
     "input_size": [H, W],      # network input (after the test pipeline)
     "ori_shape": [h0, w0],     # original image
     "gt_label": int | null, "pred_label": int,
     "branch": "B63" | "B95" | "B111",
     "branch_scores": {"B63": [K floats], "B95": [...], "B111": [...]},
     "setting": {"k_max": int, "iou_thr": float, "coverage": float},
     "patches": [{"box": [x1, y1, x2, y2],      # ints, half-open, input px
                  "ori_box": [x1, y1, x2, y2],  # floats, box / scale factor
                  "activation": float}, ...]}  # LSP selection order

``box`` sides equal the branch's receptive field; ``ori_box`` divides x by
the width scale and y by the height scale of the test pipeline's resize
(``scale_factor`` metainfo, else ``input_size / ori_shape``), so the test
pipeline must only resize (a crop or pad is refused: the boxes would not map
back by a scale).
"""
import heapq
import json
import os
import os.path as osp
from typing import (Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import mmcv
import numpy as np

from mmfsod.compat.atomic import atomic_open

from .. import lsp
from ..lsp import resolve_setting as resolve_lsp_setting
from .lsp_drawing import draw_attention_maps, draw_lsp_patches

Setting = Union[str, Mapping[str, Mapping[str, Union[int, float]]]]


def write_lsp_records(records: Iterable[dict], path: str) -> int:
    """Write ``records`` as JSON lines to ``path`` (creating its directory)
    atomically (a temporary file renamed over ``path``); return how many
    were written."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    count = 0
    with atomic_open(path, 'w', encoding='utf-8') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')
            count += 1
    return count


def merge_lsp_record_parts(parts: Sequence[str], path: str,
                           sorted_parts: bool = True) -> int:
    """Merge JSON-lines files of records (one per rank) into ``path`` in
    ``sample_idx`` order, keeping the first record of each ``sample_idx``
    (a distributed sampler pads the last ranks with copies); return how many
    were written (atomically, as :func:`write_lsp_records`).
    ``sorted_parts``: every part is already in ``sample_idx`` order, so
    the merge streams (memory independent of the number of records);
    otherwise the records are read and sorted in memory."""
    def lines(part):
        with open(part, encoding='utf-8') as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)['sample_idx'], line

    if sorted_parts:
        stream = heapq.merge(*(lines(p) for p in parts), key=lambda item: item[0])
    else:
        stream = sorted((item for p in parts for item in lines(p)),
                        key=lambda item: item[0])
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    count, last = 0, None
    with atomic_open(path, 'w', encoding='utf-8') as out:
        for idx, line in stream:
            if idx == last:
                continue
            out.write(line if line.endswith('\n') else line + '\n')
            count, last = count + 1, idx
    return count


def read_lsp_records(path: str) -> List[dict]:
    """Read a JSON-lines file of LSP patch records (blank lines skipped)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'LSP records file {path!r} does not exist')
    records = []
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {line_no}: not valid JSON ({err})') \
                    from None
    return records


def _to_int(value) -> Optional[int]:
    """An int from an int, a 0-d/1-element tensor or array; None if empty."""
    if value is None:
        return None
    if hasattr(value, 'numel'):
        if value.numel() == 0:
            return None
        if value.numel() != 1:
            raise ValueError(f'expected a single label, got {value.numel()} values')
        return int(value.reshape(-1)[0].item())
    arr = np.asarray(value).reshape(-1)
    if arr.size == 0:
        return None
    return int(arr[0])


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


class LSPRecorder:
    """Turn AnchorNet predictions into LSP patch records and pictures.

    Args:
        backbone (nn.Module): the model's backbone; it must have
            ``branch_names`` and ``geometry(input_size)`` (``AnchorNet``).
        setting (str | dict): see :func:`resolve_lsp_setting`. Default
            ``'downstream'``.
        class_names (Sequence[str], optional): class names for the pictures.
        visualizer (mmengine.visualization.Visualizer, optional): used to
            draw; a private one is made on first use when None.
    """

    def __init__(self, backbone, setting: Setting = 'downstream',
                 class_names: Optional[Sequence[str]] = None,
                 visualizer=None) -> None:
        if not (hasattr(backbone, 'geometry') and hasattr(backbone, 'branch_names')):
            raise TypeError(f'LSPRecorder: the backbone {type(backbone).__name__} has '
                            'no `geometry(input_size)` / `branch_names`; LSP needs '
                            "AnchorNet's receptive-field geometry")
        self.backbone = backbone
        self.setting_name = setting if isinstance(setting, str) else 'custom'
        self.settings = resolve_lsp_setting(setting, backbone.branch_names)
        self.class_names = tuple(class_names) if class_names is not None else None
        self.visualizer = visualizer
        self._geometries: Dict[Tuple[int, int], Dict[str, lsp.BranchGeometry]] = {}
        self.max_rf = max(g.rf for g in backbone.receptive_fields().values())

    # -- geometry ------------------------------------------------------------
    def geometry(self, input_size: Tuple[int, int]) -> Dict[str, lsp.BranchGeometry]:
        """The backbone's per-branch geometry for an ``(H, W)`` input, cached."""
        key = (int(input_size[0]), int(input_size[1]))
        if key not in self._geometries:
            self._geometries[key] = self.backbone.geometry(key)
        return self._geometries[key]

    def check_input(self, input_size: Sequence[int], img_path: Optional[str]) -> None:
        """Refuse an input smaller than the largest receptive field, naming
        the image (the backbone would fail without saying which image)."""
        H, W = int(input_size[0]), int(input_size[1])
        if H < self.max_rf or W < self.max_rf:
            raise ValueError(f'{img_path or "an image"}: the network input is {H}x{W}, '
                             f'smaller than the largest receptive field '
                             f'{self.max_rf}x{self.max_rf} of '
                             f'{type(self.backbone).__name__}; AnchorNet needs inputs '
                             f'of at least {self.max_rf} px (resize in the test '
                             f'pipeline)')

    # -- records -------------------------------------------------------------
    @staticmethod
    def _scale(meta: Mapping, where: str) -> Tuple[float, float]:
        """``(sx, sy)``: input pixels per original pixel along x and y."""
        H, W = meta['img_shape'][:2]
        h0, w0 = meta.get('ori_shape', (H, W))[:2]
        if meta.get('scale_factor') is not None:
            sx, sy = (float(v) for v in meta['scale_factor'][:2])  # (w, h) scales
        else:
            sx, sy = W / w0, H / h0
        if abs(w0 * sx - W) > 1 or abs(h0 * sy - H) > 1:
            raise ValueError(f'{where}: the test pipeline turns the {h0}x{w0} image '
                             f'into a {H}x{W} input with scale factor ({sx:.4g}, '
                             f'{sy:.4g}): more than a resize (a crop or pad), so '
                             f'patch boxes do not map back to the original image by '
                             f'box / scale; use a resize-only test pipeline, e.g. '
                             f'Resize(scale=(224, 224))')
        return sx, sy

    def record(self, sample) -> dict:
        """The LSP patch record of one predicted sample (see module doc)."""
        meta = sample.metainfo
        img_path = meta.get('img_path')
        sample_idx = meta.get('sample_idx')
        where = img_path or f'sample {sample_idx}'
        for field in ('heatmap', 'branch_scores', 'pred_label'):
            if field not in sample:
                raise KeyError(f'{where}: the prediction has no {field!r}; LSP needs '
                               f'AnchorNetHead predictions (branch, heatmap, '
                               f'branch_scores, pred_label)')
        if 'branch' not in meta:
            raise KeyError(f'{where}: the prediction has no "branch" metainfo; LSP '
                           f'needs AnchorNetHead predictions')
        if 'img_shape' not in meta:
            raise KeyError(f'{where}: the sample has no "img_shape" metainfo '
                           f'(PackInputs meta_keys)')
        branch = meta['branch']
        if branch not in self.settings:
            raise ValueError(f'{where}: unknown branch name {branch!r}; the LSP '
                             f'setting has {list(self.settings)}')
        H, W = (int(v) for v in meta['img_shape'][:2])
        h0, w0 = (int(v) for v in meta.get('ori_shape', (H, W))[:2])
        sx, sy = self._scale(meta, where)
        self.check_input((H, W), img_path)
        geo = self.geometry((H, W))[branch]
        heatmap = _to_numpy(sample.heatmap)  # (h, w)
        if heatmap.shape != tuple(geo.map_size):
            raise ValueError(f'{where}: the {branch} heatmap is {heatmap.shape}, but a '
                             f'{H}x{W} input gives {geo.map_size}: the network input '
                             f'was padded beyond the image (images of different sizes '
                             f'in one batch); use batch size 1 or a test pipeline that '
                             f'resizes every image to one size')
        setting = self.settings[branch]
        try:
            result = lsp.localize_semantic_patches(heatmap, geo, **setting)
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from err
        patches = []
        for box, activation in zip(result.boxes.tolist(), result.activations.tolist()):
            x1, y1, x2, y2 = (int(v) for v in box)
            patches.append(dict(box=[x1, y1, x2, y2],
                                ori_box=[x1 / sx, y1 / sy, x2 / sx, y2 / sy],
                                activation=float(activation)))
        return dict(
            img_path=img_path,
            sample_idx=None if sample_idx is None else int(sample_idx),
            input_size=[H, W],
            ori_shape=[h0, w0],
            gt_label=_to_int(sample.get('gt_label')),
            pred_label=_to_int(sample.pred_label),
            branch=branch,
            branch_scores={n: _to_numpy(s).reshape(-1).tolist()
                           for n, s in sample.branch_scores.items()},
            setting=dict(setting),
            patches=patches)

    # -- pictures ------------------------------------------------------------
    def _get_visualizer(self):
        if self.visualizer is None:
            from mmengine.visualization import Visualizer
            self.visualizer = Visualizer.get_instance(f'mmfsod_lsp_{id(self)}')
        return self.visualizer

    def _class_name(self, label: Optional[int]) -> str:
        if label is None:
            return '-'
        if self.class_names is not None and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return str(label)

    @staticmethod
    def attentions_of(sample) -> Dict[str, np.ndarray]:
        """Every branch's attention map ``S_j`` ``(h_j, w_j)`` of a prediction
        (its ``attentions`` field), as numpy arrays."""
        if 'attentions' not in sample:
            raise KeyError(f'{sample.get("img_path", "a sample")}: the prediction has '
                           'no "attentions" field (AnchorNetHead.predict stores every '
                           "branch's S_j)")
        return {n: _to_numpy(a) for n, a in sample.attentions.items()}

    def draw(self, record: dict, attentions: Mapping[str, np.ndarray],
             out_dir: str) -> List[str]:
        """Write two pictures of one image into ``out_dir`` and return their
        paths: ``<idx>_<name>_patches.png``, the patches' ``ori_box`` drawn on
        the original image (numbered in LSP order, paper Fig. 3), and
        ``<idx>_<name>_attention.png``, the network input and every branch's
        attention map ``S_j`` over it (paper Fig. 5).

        mmengine's visualizers draw on the main process only: in a
        distributed run call this on rank 0."""
        image = mmcv.imread(record['img_path'], channel_order='rgb')  # (h0, w0, 3)
        vis = self._get_visualizer()
        pred = self._class_name(record['pred_label'])
        gt = self._class_name(record['gt_label'])
        title = f'{pred} ({record["branch"]})\ngt {gt}'
        patches = draw_lsp_patches(
            vis, image, np.asarray([p['ori_box'] for p in record['patches']]), title)
        H, W = record['input_size']
        input_image = mmcv.imresize(image, (W, H))  # (H, W, 3), the network input
        geometry = self.geometry((H, W))
        captions = {}
        for name, scores in record['branch_scores'].items():
            label = int(np.argmax(scores))
            mark = '*' if name == record['branch'] else ''
            captions[name] = (f'{mark}{name} (RF {geometry[name].rf})\n'
                              f'{self._class_name(label)} {max(scores):.2f}')
        attention = draw_attention_maps(vis, input_image, attentions, geometry,
                                        captions, title)
        os.makedirs(out_dir, exist_ok=True)
        stem = osp.splitext(osp.basename(record['img_path']))[0]
        idx = record['sample_idx']
        prefix = f'{idx:06d}_' if idx is not None else ''
        paths = []
        for kind, picture in (('patches', patches), ('attention', attention)):
            path = osp.join(out_dir, f'{prefix}{stem}_{kind}.png')
            mmcv.imwrite(mmcv.rgb2bgr(picture), path)
            paths.append(path)
        return paths

    def __call__(self, sample, draw_dir: Optional[str] = None) -> dict:
        """The record of ``sample``; its pictures too when ``draw_dir``."""
        record = self.record(sample)
        if draw_dir is not None:
            self.draw(record, self.attentions_of(sample), draw_dir)
        return record
