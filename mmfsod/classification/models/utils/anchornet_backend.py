"""AnchorNet's test path in the classifier's inference engine, and the
decision (eqs. 6-8) with the heatmap of the branch used only.

With ``backend='onnxruntime'`` or ``'openvino'``,
:class:`~mmfsod.classification.models.PatchClassifier` runs AnchorNet in the
same engine as its classifier (``backend_cfg.anchornet_in_engine``, default
True). The graph is :class:`~.onnx_export.AnchorNetTestPath`, the paper's test
with the attention branch cut: ``input (B, 3, H, W) ->`` every branch's test
logits ``(B, K)`` and features ``feat_j (B, C_j, h_j, w_j)``. Then, in
Python (:func:`decide_and_map`): the decision of
:meth:`AnchorNetHead.predict` (eqs. 6-8, :func:`lsp.decide` on the branch
softmaxes) and the heatmap of the decided class on the one branch each image
uses (the decided ``theta``, or a fixed ``branch``),
``M = W_j[gamma] . feat_j + b_j[gamma]`` (:meth:`AnchorNetHead.class_map`),
not every branch's map nor the per-image records of ``predict``.

Why (issue 23, item 4): at the paper's operating point (ResNet-50, 2
threads, the classifier in ONNX Runtime or OpenVINO) AnchorNet in PyTorch
took most of the patch pipeline's time; in the engine it is about twice as
fast, and PyTorch's and the engine's thread pools no longer take turns on the
same cores within one image (``docs/benchmarks.md``).

AnchorNet stays in PyTorch (``localizer.predict``, as before) with
``backend='pytorch'``, with ``anchornet_in_engine=False``, and for a head that
weights its logits by the attention at test (``test_with_attention=True``:
not the exported graph). The graph comes from
``backend_cfg.anchornet_onnx_file`` (``tools/deployment/export_onnx.py
--part anchornet``; its sidecar is checked: kind, classes, normalisation,
and the input size at run time) or is exported from the localizer's current
weights when first needed (again when they change).
"""
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log

from ... import lsp
from .inference_backends import InferenceEngine, LazyEngine, build_engine, require_backend
from .onnx_export import AnchorNetTestPath, check_sidecar, export_onnx, read_sidecar


class Localized(NamedTuple):
    """AnchorNet's answer for one image: ``label`` (``gamma``), ``branch``
    (the decided ``theta``) and ``heatmap`` ``(h, w)``, the class's map on
    the branch used (``theta``, or the fixed branch asked for)."""
    label: int
    branch: str
    heatmap: torch.Tensor


def _numpy(t) -> np.ndarray:
    """A CPU array of ``t`` (a tensor or an array; no copy when it is one)."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


def decide_and_map(head: nn.Module, logits: Sequence[torch.Tensor],
                   feats: Sequence[torch.Tensor],
                   branch: Optional[str] = None) -> List[Localized]:
    """The decision of :meth:`AnchorNetHead.predict` from the branches' test
    logits, and the heatmap of the decided class on the branch used only.

    In NumPy, single-threaded: the engine's outputs are NumPy arrays already,
    and a PyTorch op right after an engine's run can wait for the cores the
    engine's threads still hold (with ONNX Runtime's threads spin-waiting, a
    0.3 ms decision took 3-20 ms on the project's loaded 2-core machine).

    Args:
        head (AnchorNetHead): gives the branch order, ``min_votes`` and the
            1x1 logits convolutions (``W_j``, ``b_j``).
        logits (Sequence[Tensor | ndarray]): ``(B, K)`` test logits per
            branch, in ``head.branch_names`` order.
        feats (Sequence[Tensor | ndarray]): ``(B, C_j, h_j, w_j)`` branch
            features, same order.
        branch (str, optional): the branch whose map to give every image;
            None: each image's decided ``theta``.

    Returns:
        list[Localized]: one per image; ``heatmap`` is
        ``W_j[gamma] . feat_j + b_j[gamma]``, float32 on the CPU.
    """
    names = tuple(head.branch_names)
    if len(logits) != len(names) or len(feats) != len(names):
        raise ValueError(f'decide_and_map: {len(logits)} logits and {len(feats)} '
                         f'features for the branches {names}')
    probs = {}
    for name, z in zip(names, logits):
        z = _numpy(z)  # (B, K)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probs[name] = e / e.sum(axis=1, keepdims=True)  # softmax, (B, K)
    decision = lsp.decide(probs, min_votes=head.min_votes)
    feat_of = dict(zip(names, feats))
    located = []
    for i, (gamma, theta) in enumerate(zip(decision.label.tolist(), decision.branch)):
        used = branch or theta
        conv = head.logits_convs[used]
        weight = _numpy(conv.weight)[gamma].reshape(-1)  # (C, )
        m = np.einsum('chw,c->hw', _numpy(feat_of[used][i]), weight)  # (h, w)
        if conv.bias is not None:
            m = m + _numpy(conv.bias)[gamma]
        located.append(Localized(int(gamma), theta, torch.from_numpy(m)))
    return located


def localized_from_predict(decisions, branch: Optional[str] = None) -> List[Localized]:
    """:meth:`AnchorNetHead.predict`'s DataSamples as :class:`Localized`."""
    return [Localized(int(d.pred_label.item()), d.branch,
                      d.heatmaps[branch] if branch else d.heatmap)
            for d in decisions]


class AnchorNetBackend(LazyEngine):
    """AnchorNet at test in the engine of ``backend``, or in PyTorch.

    Args:
        backend (str): ``'pytorch'``, ``'onnxruntime'`` or ``'openvino'``.
        backend_cfg (dict, optional): ``anchornet_in_engine`` (default True),
            ``anchornet_onnx_file`` (an exported ``'anchornet'`` graph; None:
            export the localizer's current weights when first needed) and
            ``num_threads`` (None: torch's); other keys are the classifier's.
        what (str): the owner's name, for messages.
    """

    def __init__(self, backend: str = 'pytorch', backend_cfg: Optional[dict] = None,
                 what: str = 'PatchClassifier'):
        require_backend(backend, f'{what}: backend')
        cfg = dict(backend_cfg or {})
        in_engine = cfg.get('anchornet_in_engine', True)
        if not isinstance(in_engine, bool):
            raise ValueError(f'{what}: backend_cfg.anchornet_in_engine must be True or '
                             f'False, got {in_engine!r}')
        onnx_file = cfg.get('anchornet_onnx_file')
        if onnx_file is not None and not osp.isfile(onnx_file):
            raise FileNotFoundError(f'{what}: backend_cfg.anchornet_onnx_file '
                                    f'{onnx_file!r} does not exist (write it with '
                                    'tools/deployment/export_onnx.py --part anchornet)')
        super().__init__(backend, onnx_file, cfg.get('num_threads'), what)
        self.in_engine = backend != 'pytorch' and in_engine

    def uses_engine(self, localizer: nn.Module) -> bool:
        """Whether AnchorNet runs in the engine (not for a head that uses the
        attention at test)."""
        return self.in_engine and not localizer.head.test_with_attention

    def check(self, localizer: nn.Module, normalisation: Optional[dict]) -> None:
        """Check ``anchornet_onnx_file`` against the config: one clear error
        naming the file."""
        if not (self.in_engine and self.onnx_file is not None):
            return
        if localizer.head.test_with_attention:
            raise ValueError(f'{self.onnx_file}: the graph is AnchorNet with the '
                             'attention branch cut, but the localizer\'s head has '
                             'test_with_attention=True (set backend_cfg.'
                             'anchornet_in_engine=False to keep AnchorNet in PyTorch)')
        check_sidecar(self.onnx_file, read_sidecar(self.onnx_file), 'anchornet',
                      localizer.head.num_classes, normalisation)

    def engine(self, localizer: nn.Module) -> InferenceEngine:
        """The engine, built on first use (and, without ``anchornet_onnx_file``,
        exported again when the localizer's weights have changed)."""
        if self.onnx_file is not None:
            if self._engine is None:
                self._engine = build_engine(self.backend, self.onnx_file,
                                            self.num_threads)
            return self._engine

        def export(path: str) -> None:
            largest = max(rf.rf for rf in localizer.backbone.receptive_fields().values())
            export_onnx(AnchorNetTestPath(localizer), path, 'anchornet',
                        localizer.head.num_classes, largest, largest)
            print_log(f'{self.what}: AnchorNet runs in {self.backend}', logger='current')

        return self._exported_engine(localizer, 'anchornet', export)

    def forward(self, localizer: nn.Module, inputs: torch.Tensor):
        """AnchorNet's network part on ``inputs`` ``(B, 3, H, W)``: the
        engine's ``(logits, feats)`` per branch, or PyTorch's backbone
        features."""
        if not self.uses_engine(localizer):
            return localizer.extract_feat(inputs)
        names = localizer.head.branch_names
        outputs = self.engine(localizer)(inputs)
        if len(outputs) != 2 * len(names) or outputs[0].size(-1) != \
                localizer.head.num_classes:
            raise ValueError(f'{self._engine.onnx_file}: {len(outputs)} outputs '
                             f'(first {tuple(outputs[0].shape)}), expected the '
                             f'logits and features of the branches {tuple(names)} '
                             f'with {localizer.head.num_classes} classes (an '
                             "'anchornet' graph)")
        return outputs[:len(names)], outputs[len(names):]

    def decide(self, localizer: nn.Module, raw,
               branch: Optional[str] = None) -> List[Localized]:
        """The decision and heatmaps from :meth:`forward`'s output."""
        if not self.uses_engine(localizer):
            return localized_from_predict(localizer.head.predict(raw), branch)
        logits, feats = raw
        return decide_and_map(localizer.head, logits, feats, branch)

    def localize(self, localizer: nn.Module, inputs: torch.Tensor,
                 branch: Optional[str] = None) -> List[Localized]:
        """One :class:`Localized` per image of ``inputs``: :meth:`decide`
        after :meth:`forward` in the engine, ``localizer.predict`` in PyTorch
        (its backbone then :meth:`AnchorNetHead.predict`, as :meth:`forward`
        and :meth:`decide` split it)."""
        if not self.uses_engine(localizer):
            return localized_from_predict(localizer.predict(inputs), branch)
        return self.decide(localizer, self.forward(localizer, inputs), branch)
