"""Inference engines for the downstream classifier: PyTorch, ONNX Runtime or
OpenVINO.

:class:`ClassifierBackend` is what
:class:`~mmfsod.classification.models.PatchClassifier` holds: with
``backend='pytorch'`` (default) it is inactive and the classifier runs as a
PyTorch module; with ``'onnxruntime'`` or ``'openvino'`` the classifier's
test-time forward (the patches, or the whole image in ``mode='full'``) goes
through an ONNX graph in that engine; so does AnchorNet's test path, by
:class:`~.anchornet_backend.AnchorNetBackend` (``backend_cfg.anchornet_in_engine``).
LSP, the crops, the early exit, and the MACs, which are counted on the
PyTorch models, are unchanged.

The graph comes from ``backend_cfg.onnx_file`` (written by
``tools/deployment/export_onnx.py``; its sidecar is checked against the
config: classes, normalisation, and at run time the input size against the
exported range), or, without one, is exported from the classifier's current
weights the first time it is needed (into a temporary directory; exported
again when the weights have changed since, e.g. after loading a checkpoint
or a training step).

ONNX Runtime and OpenVINO are the optional ``deploy`` extra
(``pip install -e .[deploy]``); without them, choosing their backend is one
clear error that names the extra.
"""
import contextlib
import importlib
import os.path as osp
import tempfile
from typing import Callable, List, Optional

import numpy as np
import torch
import torch.nn as nn

from .onnx_export import (ClassifierLogits, check_input_size, check_sidecar,
                          export_onnx, read_sidecar)

BACKENDS = ('pytorch', 'onnxruntime', 'openvino')
# anchornet_*: AnchorNet in the same engine (anchornet_backend.AnchorNetBackend)
BACKEND_CFG_KEYS = ('onnx_file', 'num_threads', 'anchornet_in_engine',
                    'anchornet_onnx_file')
DEPLOY_HINT = "pip install -e '.[deploy]'"
# backend -> the python module it needs
_MODULES = dict(onnxruntime='onnxruntime', openvino='openvino')


def require_backend(backend: str, what: str = 'backend'):
    """The python module of ``backend`` (None for ``'pytorch'``); an unknown
    backend, or one that is not installed, is one clear error."""
    if backend not in BACKENDS:
        raise ValueError(f'{what} must be one of {BACKENDS}, got {backend!r}')
    if backend == 'pytorch':
        return None
    try:
        return importlib.import_module(_MODULES[backend])
    except ImportError as err:
        raise ImportError(f"{what} {backend!r} needs the 'deploy' extra, which is not "
                          f'installed ({err}): {DEPLOY_HINT}') from err


def backend_available(backend: str) -> bool:
    """Whether ``backend`` can run here."""
    try:
        require_backend(backend)
        return True
    except ImportError:
        return False


class InferenceEngine:
    """An ONNX graph in one engine: ``engine(x) -> [outputs]`` with ``x`` a
    ``(N, 3, h, w)`` tensor and the outputs float tensors on ``x``'s device.

    Args:
        onnx_file (str): the graph.
        num_threads (int, optional): intra-op threads; None: torch's current
            number (:func:`torch.get_num_threads`).
    """
    backend = ''

    def __init__(self, onnx_file: str, num_threads: Optional[int] = None):
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'{onnx_file}: no such ONNX file')
        self.onnx_file = onnx_file
        self.num_threads = int(num_threads or torch.get_num_threads())
        self.meta = read_sidecar(onnx_file)
        self._load()
        shape = self.input_shape
        if len(shape) != 4 or shape[1] not in (None, 3):
            raise ValueError(f'{onnx_file}: input of shape {shape}, expected '
                             '(N, 3, H, W)')

    def _load(self) -> None:
        raise NotImplementedError

    def _run(self, array: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError

    @staticmethod
    def _dims(shape) -> List[Optional[int]]:
        return [d if isinstance(d, int) and d > 0 else None for d in shape]

    def __call__(self, x: torch.Tensor) -> List[torch.Tensor]:
        if x.dim() != 4:
            raise ValueError(f'{self.onnx_file}: input of shape {tuple(x.shape)}, '
                             'expected (N, 3, H, W)')
        check_input_size(self.onnx_file, self.meta, int(x.shape[2]), int(x.shape[3]))
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        return [torch.from_numpy(np.asarray(o)).to(x.device) for o in self._run(array)]


class OnnxRuntimeEngine(InferenceEngine):
    """ONNX Runtime, CPU execution provider, all graph optimisations."""
    backend = 'onnxruntime'

    def _load(self) -> None:
        ort = require_backend('onnxruntime')
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no spin-waiting after a run: spinning intra-op threads took the
        # cores from the PyTorch work between the engine's calls (AnchorNet,
        # LSP, crops: 2-5x slower right after a run, loaded 2-core machine)
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        self.session = ort.InferenceSession(self.onnx_file, options,
                                            providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = self._dims(self.session.get_inputs()[0].shape)
        self.output_shapes = [self._dims(o.shape) for o in self.session.get_outputs()]

    def _run(self, array):
        return self.session.run(None, {self.input_name: array})


class OpenVINOEngine(InferenceEngine):
    """OpenVINO on the CPU, float32 inference precision (no bf16 on CPUs
    that have it: the outputs must equal PyTorch's), latency hint."""
    backend = 'openvino'

    def _load(self) -> None:
        ov = require_backend('openvino')
        core = ov.Core()
        model = core.read_model(self.onnx_file)
        self.compiled = core.compile_model(model, 'CPU', {
            'INFERENCE_NUM_THREADS': self.num_threads,
            'INFERENCE_PRECISION_HINT': 'f32',
            'PERFORMANCE_HINT': 'LATENCY'})
        self.request = self.compiled.create_infer_request()
        shape = model.inputs[0].get_partial_shape()
        self.input_shape = [d.get_length() if d.is_static else None for d in shape]
        self.output_shapes = [
            [d.get_length() if d.is_static else None for d in o.get_partial_shape()]
            for o in model.outputs]

    def _run(self, array):
        self.request.infer({0: array})
        return [self.request.get_output_tensor(i).data.copy()
                for i in range(len(self.compiled.outputs))]


ENGINES = dict(onnxruntime=OnnxRuntimeEngine, openvino=OpenVINOEngine)


def build_engine(backend: str, onnx_file: str,
                 num_threads: Optional[int] = None) -> InferenceEngine:
    """An :class:`InferenceEngine` of ``backend`` (not ``'pytorch'``)."""
    require_backend(backend)
    if backend == 'pytorch':
        raise ValueError("build_engine: 'pytorch' runs the module itself, no engine")
    return ENGINES[backend](onnx_file, num_threads)


def _weights_version(module: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer of ``module`` is replaced or
    modified in place (optimizer steps, ``load_state_dict``)."""
    return tuple((id(t), t._version) for t in
                 list(module.parameters()) + list(module.buffers()))


@contextlib.contextmanager
def _eager_backbone(classifier: nn.Module):
    """Export the module a traced / compiled backbone
    (:func:`optimize_for_inference`'s ``compile``) was made from: the same
    weights, and exportable."""
    backbone = getattr(classifier, 'backbone', None)
    original = getattr(backbone, 'original', None) if backbone is not None else None
    if not isinstance(original, nn.Module):
        yield
        return
    classifier.backbone = original
    try:
        yield
    finally:
        classifier.backbone = backbone


class LazyEngine:
    """An inference engine for a PyTorch module, built when first needed:
    from a given ONNX file, or exported from the module's current weights
    into a temporary folder (again when the weights have changed).

    Engines (sessions, compiled models) cannot be copied or pickled: a copy
    rebuilds its own lazily.
    """

    def __init__(self, backend: str, onnx_file: Optional[str],
                 num_threads: Optional[int], what: str):
        self.what = what
        self.backend = backend
        self.onnx_file = onnx_file
        self.num_threads = num_threads
        self._engine: Optional[InferenceEngine] = None
        self._version = None
        self._tmpdir = None

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._engine, new._version, new._tmpdir = None, None, None
        return new

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_engine=None, _version=None, _tmpdir=None)
        return state

    def _exported_engine(self, module: nn.Module, name: str,
                         export: Callable[[str], None]) -> InferenceEngine:
        """The engine of ``module``'s current weights: ``export(path)``
        writes ``name.onnx`` (the module's backbone eager, its train mode
        kept) when there is no engine yet or the weights have changed."""
        version = _weights_version(module)
        if self._engine is None or version != self._version:
            if self._tmpdir is None:
                self._tmpdir = tempfile.TemporaryDirectory(prefix='mmfsod-onnx-')
            path = osp.join(self._tmpdir.name, f'{name}.onnx')
            was_training = module.training
            try:
                with _eager_backbone(module):
                    export(path)
            finally:
                module.train(was_training)
            self._engine = build_engine(self.backend, path, self.num_threads)
            self._engine.meta = None  # exported here: any input size
            self._version = version
        return self._engine


class ClassifierBackend(LazyEngine):
    """The downstream classifier's test-time forward in the chosen engine.

    Args:
        backend (str): ``'pytorch'`` (inactive), ``'onnxruntime'`` or
            ``'openvino'``.
        backend_cfg (dict, optional): ``onnx_file`` (an exported
            ``'classifier'`` graph; None: export the classifier's current
            weights when first needed) and ``num_threads`` (None: torch's).
        what (str): the owner's name, for messages.
    """

    def __init__(self, backend: str = 'pytorch', backend_cfg: Optional[dict] = None,
                 what: str = 'PatchClassifier'):
        require_backend(backend, f'{what}: backend')
        cfg = dict(backend_cfg or {})
        unknown = sorted(set(cfg) - set(BACKEND_CFG_KEYS))
        if unknown:
            raise ValueError(f'{what}: backend_cfg: unknown key(s) {unknown}; known: '
                             f'{list(BACKEND_CFG_KEYS)}')
        onnx_file = cfg.get('onnx_file')
        if onnx_file is not None and not osp.isfile(onnx_file):
            raise FileNotFoundError(f'{what}: backend_cfg.onnx_file {onnx_file!r} does '
                                    'not exist (write it with tools/deployment/'
                                    'export_onnx.py)')
        super().__init__(backend, onnx_file, cfg.get('num_threads'), what)
        self._num_classes: Optional[int] = None

    @property
    def active(self) -> bool:
        return self.backend != 'pytorch'

    def check(self, num_classes: Optional[int], normalisation: Optional[dict]) -> None:
        """Check ``onnx_file``'s sidecar against the config (classes,
        normalisation): one clear error naming the file."""
        self._num_classes = num_classes
        if self.active and self.onnx_file is not None:
            check_sidecar(self.onnx_file, read_sidecar(self.onnx_file), 'classifier',
                          num_classes, normalisation)

    def engine(self, classifier: nn.Module) -> InferenceEngine:
        """The engine, built on first use (and, without ``onnx_file``, rebuilt
        from the classifier's weights when they have changed)."""
        if self.onnx_file is not None:
            if self._engine is None:
                engine = build_engine(self.backend, self.onnx_file, self.num_threads)
                classes = engine.output_shapes[0][-1] if engine.output_shapes[0] else None
                if None not in (classes, self._num_classes) and \
                        classes != self._num_classes:
                    raise ValueError(f'{self.onnx_file}: the graph outputs {classes} '
                                     f'classes, the config has {self._num_classes}')
                self._engine = engine
            return self._engine
        return self._exported_engine(
            classifier, 'classifier',
            lambda path: export_onnx(ClassifierLogits(classifier), path, 'classifier',
                                     num_classes=-1, min_size=1, max_size=64))

    def logits(self, classifier: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """``(N, 3, h, w) -> (N, K)`` logits through the engine."""
        outputs = self.engine(classifier)(inputs)
        logits = outputs[0]
        if logits.dim() != 2 or logits.size(0) != inputs.size(0):
            raise ValueError(f'{self._engine.onnx_file}: output of shape '
                             f'{tuple(logits.shape)} for {inputs.size(0)} inputs, '
                             'expected (N, num_classes) logits (a classifier graph)')
        return logits.to(inputs.dtype)


def max_abs_diff(module: nn.Module, engine: InferenceEngine, sizes, batch: int = 2,
                 seed: int = 0) -> float:
    """The largest ``|engine - module|`` over all outputs, on seeded random
    ``(batch, 3, s, s)`` inputs for every side ``s`` of ``sizes`` (``(h, w)``
    pairs allowed). ``module`` is an exported graph's module
    (:class:`ClassifierLogits` or :class:`AnchorNetTestPath`)."""
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    module.eval()
    for size in sizes:
        h, w = (size, size) if isinstance(size, int) else size
        x = torch.randn(batch, 3, h, w, generator=g)  # (B, 3, h, w)
        with torch.no_grad():
            ref = module(x)
        ref = ref if isinstance(ref, (tuple, list)) else (ref, )
        got = engine(x)
        if len(got) != len(ref):
            raise ValueError(f'{engine.onnx_file}: {len(got)} outputs, the module '
                             f'gives {len(ref)}')
        for r, o in zip(ref, got):
            if tuple(r.shape) != tuple(o.shape):
                raise ValueError(f'{engine.onnx_file}: output of shape {tuple(o.shape)}'
                                 f', the module gives {tuple(r.shape)}')
            worst = max(worst, float((r.float() - o.float()).abs().max()))
    return worst
