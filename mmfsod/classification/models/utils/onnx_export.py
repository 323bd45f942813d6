"""ONNX export of AnchorNet's test path and of the downstream classifiers.

Two graphs, both with a dynamic batch and a dynamic input size, taking the
*normalised* network input ``(N, 3, h, w)`` (what the models see after their
``data_preprocessor``):

* ``'classifier'`` (:class:`ClassifierLogits`): an mmpretrain classifier's
  ``mode='tensor'`` forward, ``input -> logits (N, K)``: what
  :class:`~mmfsod.classification.models.PatchClassifier` runs on the patches
  (and on the whole image in ``mode='full'``).
* ``'anchornet'`` (:class:`AnchorNetTestPath`): AnchorNet at test as the
  paper runs it, the attention branch cut ("cancelled at test", Fig. 2): the
  head layers and the three branches, no attention bottleneck;
  ``input -> logits_<branch> (N, K)`` for every branch (the test logits,
  ``mean_hw F_j``, by linearity from the pooled features) and
  ``feat_<branch> (N, C, h_j, w_j)``, the branch features that give the
  heatmap of any class: ``M_j = W_j[gamma] . feat_j + b_j[gamma]``
  (:meth:`AnchorNetHead.class_maps`). The decision (eqs. 6-8) and LSP stay in
  Python.

The exporter is :func:`torch.onnx.export`. ``exporter='torchscript'``
(default) is the TorchScript-based one with ``dynamic_axes``; ``'dynamo'``
is torch's newer ``torch.export`` path (the default of ``torch.onnx.export``
since torch 2.9) with ``dynamic_shapes``, which needs ``onnxscript``. Both
give the same outputs here (ResNet-50 and AnchorNet within 5e-8 of PyTorch
in ONNX Runtime); the TorchScript one exports 6-12x faster (ResNet-50 4 s
against 25 s, AnchorNet 4 s against 44 s on the project's 2-core machine)
and needs no onnxscript, so it is the default; torch marks it deprecated.
mmdeploy 1.3.1 does not work with this stack (see the docs).

Every ``model.onnx`` is written atomically (a temporary file renamed) beside
a sidecar ``model.json`` (:func:`sidecar_path`) that records what a config
must match: the graph kind, the number of classes, the input channels and
the range of input sizes exported and checked (``min_size``..``max_size``),
the normalisation, the opset and the exporter.
"""
import json
import os
import os.path as osp
import tempfile
import warnings
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

ONNX_KINDS = ('classifier', 'anchornet')
EXPORTERS = ('torchscript', 'dynamo')
SIDECAR_FORMAT = 'mmfsod-onnx/1'
DEFAULT_OPSET = 17


class ClassifierLogits(nn.Module):
    """``(N, 3, h, w) -> (N, K)`` logits of an mmpretrain classifier
    (``mode='tensor'``; the last element when it returns a tuple)."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(x, mode='tensor')
        if isinstance(logits, (tuple, list)):
            logits = logits[-1]
        return logits  # (N, K)


class AnchorNetTestPath(nn.Module):
    """AnchorNet's test path with the attention branch cut (the paper's test):
    ``(N, 3, H, W) -> (logits_j (N, K) for every branch j, then feat_j
    (N, C_j, h_j, w_j) for every branch j)``.

    Args:
        localizer (nn.Module): the AnchorNet classifier (``ImageClassifier``
            with an ``AnchorNet`` backbone and an ``AnchorNetHead``) whose
            head has ``test_with_attention=False``.
    """

    def __init__(self, localizer: nn.Module):
        super().__init__()
        backbone = getattr(localizer, 'backbone', None)
        head = getattr(localizer, 'head', None)
        if not (hasattr(backbone, 'branch_names') and hasattr(backbone, 'head_layers')
                and hasattr(head, 'branch_outputs')):
            raise TypeError('AnchorNetTestPath: expected an AnchorNet classifier '
                            '(AnchorNet backbone, AnchorNetHead), got '
                            f'{type(localizer).__name__} with backbone '
                            f'{type(backbone).__name__}')
        if head.test_with_attention:
            raise ValueError('AnchorNetTestPath: the head has test_with_attention=True; '
                             "the exported test path is the paper's, with the attention "
                             'branch cut (test_with_attention=False)')
        self.backbone = backbone
        self.head = head
        self.branch_names = tuple(backbone.branch_names)

    def forward(self, x: torch.Tensor):
        h = self.backbone.head_layers(x)  # (N, C_head, h0, w0)
        feats = tuple((self.backbone.branches[n](h), None)
                      for n in self.branch_names)  # (N, C_j, h_j, w_j), no attention
        outs = self.head.branch_outputs(feats, with_attention=False, with_maps=False)
        return tuple(outs[n]['logits'] for n in self.branch_names) + \
            tuple(f for f, _ in feats)

    def output_names(self) -> List[str]:
        return [f'logits_{n}' for n in self.branch_names] + \
            [f'feat_{n}' for n in self.branch_names]


def sidecar_path(onnx_file: str) -> str:
    """``dir/model.onnx`` -> ``dir/model.json``."""
    root, ext = osp.splitext(onnx_file)
    return (root if ext == '.onnx' else onnx_file) + '.json'


def read_sidecar(onnx_file: str) -> Optional[dict]:
    """The sidecar of ``onnx_file``, or None when there is none."""
    path = sidecar_path(onnx_file)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        meta = json.load(f)
    if not isinstance(meta, dict) or meta.get('format') != SIDECAR_FORMAT:
        raise ValueError(f'{path}: not an mmfsod ONNX sidecar (format '
                         f'{SIDECAR_FORMAT!r} expected)')
    return meta


def _publish(tmp: str, path: str) -> None:
    """Rename ``tmp`` (a ``mkstemp`` file, mode 0600) to ``path`` with the
    permissions of a file created normally (umask applied)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def _atomic_write_json(path: str, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(path)), suffix='.json.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=2)
            f.write('\n')
        _publish(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def export_onnx(module: nn.Module, onnx_file: str, kind: str, num_classes: int,
                min_size: int, max_size: int, opset: int = DEFAULT_OPSET,
                exporter: str = 'torchscript', meta: Optional[dict] = None) -> dict:
    """Export ``module`` (a :class:`ClassifierLogits` or
    :class:`AnchorNetTestPath`) to ``onnx_file`` with a dynamic batch and a
    dynamic square-or-not input size, and write its sidecar.

    Args:
        module: the graph to export (put in eval mode; not changed).
        onnx_file (str): the ``.onnx`` path; written atomically.
        kind (str): ``'classifier'`` or ``'anchornet'``.
        num_classes (int): ``K``, recorded.
        min_size, max_size (int): the input sides the graph is meant for
            (recorded, and the range ``'dynamo'`` exports for).
        opset (int): the ONNX opset. Default 17.
        exporter (str): ``'torchscript'`` (default) or ``'dynamo'``.
        meta (dict, optional): more sidecar entries (config, checkpoint,
            normalisation, class names).

    Returns:
        dict: the sidecar written.
    """
    if kind not in ONNX_KINDS:
        raise ValueError(f'export_onnx: kind must be one of {ONNX_KINDS}, got {kind!r}')
    if exporter not in EXPORTERS:
        raise ValueError(f'export_onnx: exporter must be one of {EXPORTERS}, '
                         f'got {exporter!r}')
    if not (isinstance(min_size, int) and isinstance(max_size, int)
            and 1 <= min_size <= max_size):
        raise ValueError(f'export_onnx: need 1 <= min_size <= max_size, got '
                         f'{min_size!r}, {max_size!r}')
    if not onnx_file.endswith('.onnx'):
        raise ValueError(f'export_onnx: {onnx_file!r} must end with .onnx')
    module = module.eval()
    outputs = module.output_names() if kind == 'anchornet' else ['logits']
    example = torch.randn(2, 3, max_size, max_size,
                          device=next(module.parameters()).device)  # (2, 3, S, S)
    out_dir = osp.dirname(osp.abspath(onnx_file))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix='.onnx.tmp')
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # torchscript exporter
            if exporter == 'torchscript':
                torch.onnx.export(
                    module, (example, ), tmp, dynamo=False, opset_version=opset,
                    input_names=['input'], output_names=outputs,
                    dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'},
                                  **{o: {0: 'batch'} for o in outputs}})
            else:
                from torch.export import Dim
                side = dict(min=min_size, max=max_size)
                dims = {0: Dim('batch', min=1, max=4096), 2: Dim('height', **side),
                        3: Dim('width', **side)}
                program = torch.onnx.export(module, (example, ), dynamo=True,
                                            opset_version=opset, input_names=['input'],
                                            output_names=outputs,
                                            dynamic_shapes={'x': dims},
                                            external_data=False)
                program.save(tmp, external_data=False)
        _publish(tmp, onnx_file)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    sidecar = dict(format=SIDECAR_FORMAT, kind=kind, num_classes=int(num_classes),
                   input=dict(name='input', channels=3, min_size=int(min_size),
                              max_size=int(max_size), normalised=True),
                   outputs=outputs, opset=int(opset), exporter=exporter,
                   torch=torch.__version__)
    for key, value in (meta or {}).items():
        if key == 'input':
            sidecar['input'].update(value)
        else:
            sidecar[key] = value
    _atomic_write_json(sidecar_path(onnx_file), sidecar)
    return sidecar


def update_sidecar(onnx_file: str, **entries) -> dict:
    """Add entries (e.g. the measured agreement) to an existing sidecar."""
    meta = read_sidecar(onnx_file) or {}
    meta.update(entries)
    _atomic_write_json(sidecar_path(onnx_file), meta)
    return meta


def check_sidecar(onnx_file: str, meta: Optional[dict], kind: str,
                  num_classes: Optional[int] = None,
                  normalisation: Optional[Dict[str, Sequence[float]]] = None) -> None:
    """Raise one clear ``ValueError`` naming ``onnx_file`` when its sidecar
    ``meta`` does not match what the config builds: the graph kind, the number
    of classes, the normalisation (mean / std, when both are known). No
    sidecar (``meta`` None): nothing to check here (the engine still checks
    the graph's own shapes)."""
    if meta is None:
        return
    if meta.get('kind') != kind:
        raise ValueError(f'{onnx_file}: a {meta.get("kind")!r} graph, but the config '
                         f'needs a {kind!r} graph')
    if num_classes is not None and int(meta.get('num_classes', -1)) != int(num_classes):
        raise ValueError(f'{onnx_file}: exported with {meta.get("num_classes")} classes, '
                         f'the config has {num_classes}')
    side = meta.get('input', {})
    for key in ('mean', 'std'):
        want = (normalisation or {}).get(key)
        got = side.get(key)
        if want is not None and got is not None and (
                len(want) != len(got)
                or any(abs(float(a) - float(b)) > 1e-4 for a, b in zip(want, got))):
            raise ValueError(f'{onnx_file}: exported for input normalised with {key} '
                             f'{list(got)}, the config normalises with {list(want)}')


def check_input_size(onnx_file: str, meta: Optional[dict], height: int, width: int,
                     what: str = 'input') -> None:
    """Raise one clear ``ValueError`` naming ``onnx_file`` when an input side
    lies outside the sidecar's exported range."""
    if meta is None:
        return
    lo, hi = meta['input'].get('min_size'), meta['input'].get('max_size')
    if lo is None or hi is None:
        return
    if not (lo <= height <= hi and lo <= width <= hi):
        raise ValueError(f'{onnx_file}: {what} size {height}x{width} is outside the '
                         f'exported range {lo}..{hi} px (re-export with '
                         'tools/deployment/export_onnx.py --min-size/--max-size)')
