"""The inference-engine rows of ``benchmark_patch_pipeline.py``'s config mode
(``--backends``).

Every ``CONFIG CKPT`` row is measured once per backend: ``pytorch`` as the
config builds it, and for ``onnxruntime`` / ``openvino`` with
``model.backend=<engine>`` and ``model.backend_cfg.onnx_file`` set to the
checkpoint's classifier exported by ``tools/deployment/export_onnx.py``'s
functions (dynamic batch and size, its sidecar checked against the config,
the graph checked against PyTorch to ``ATOL`` in that engine). What
``PatchClassifier(backend=...)`` runs in an engine runs there; LSP, the
crops, the early exit and the MACs (PyTorch's counts) are those of the
PyTorch rows, and the predictions are compared image by image with the
PyTorch row of the same config.

``best`` is the first installed of :data:`ENGINES`; an engine that is not
installed gives one line and no rows (the PyTorch rows still print).
"""
import importlib.util
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
ENGINES = ('onnxruntime', 'openvino')  # 'best' takes the first installed
CHOICES = ('pytorch', ) + ENGINES + ('best', )
DEPLOY_HINT = "pip install -e '.[deploy]'"
ATOL = 1e-4  # |onnx - pytorch| allowed on the export check (issue 23)


def add_arguments(parser) -> None:
    parser.add_argument('--backends', nargs='+', choices=CHOICES, default=['pytorch'],
                        metavar='BACKEND',
                        help='measure every CONFIG CKPT row in each of these engines '
                        f'({", ".join(CHOICES)}; best: the first installed of '
                        f'{", ".join(ENGINES)}); default pytorch. Engine rows run the '
                        "checkpoint's classifier exported to ONNX (--onnx-dir)")
    parser.add_argument('--onnx-dir', default=None,
                        help='where the engine rows\' ONNX graphs (and sidecars) are '
                        'written; default a temporary directory, removed at the end')


def installed(engine: str) -> bool:
    """Whether ``engine``'s python package can be imported (not imported here:
    OpenVINO is loaded only when a row needs it)."""
    return importlib.util.find_spec(engine) is not None


def resolve_backends(requested: List[str], is_installed=None
                     ) -> Tuple[List[str], List[str]]:
    """The backends to measure, PyTorch first, each once; and one line for
    every requested engine that is not installed (``is_installed``, default
    :func:`installed`)."""
    is_installed = is_installed or installed
    backends, notes = [], []
    for name in requested:
        if name == 'best':
            found = [e for e in ENGINES if is_installed(e)]
            if not found:
                notes.append(f'--backends best: no inference engine is installed '
                             f'({" or ".join(ENGINES)}: {DEPLOY_HINT}); PyTorch rows '
                             'only')
                continue
            name = found[0]
        elif name != 'pytorch' and not is_installed(name):
            notes.append(f'--backends: {name} is not installed (the deploy extra: '
                         f'{DEPLOY_HINT}); no {name} rows')
            continue
        if name not in backends:
            backends.append(name)
    backends.sort(key=lambda b: b != 'pytorch')  # stable: PyTorch first
    return backends, notes


def row_name(name: str, backend: str) -> str:
    return name if backend == 'pytorch' else f'{name} ({backend})'


class ClassifierExports:
    """The classifiers of ``CONFIG CKPT`` pairs exported once each (per
    checkpoint, classifier config and size range) into ``onnx_dir`` (None:
    a temporary directory, removed by :meth:`cleanup`)."""

    def __init__(self, onnx_dir: Optional[str] = None):
        self._tmp = None
        if onnx_dir is None:
            import tempfile
            self._tmp = tempfile.TemporaryDirectory(prefix='mmfsod-bench-onnx-')
            onnx_dir = self._tmp.name
        os.makedirs(onnx_dir, exist_ok=True)
        self.onnx_dir = onnx_dir
        self._files: Dict[tuple, str] = {}
        self._checked: Dict[Tuple[str, str], float] = {}
        self._initial: List[str] = []

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def checkpoint_of(self, model, config: str, checkpoint: str) -> str:
        """``checkpoint``, or for ``'none'`` (initial weights, random) the
        weights ``model`` was built with, saved into ``onnx_dir``: the
        engine rows must run the PyTorch row's weights."""
        if checkpoint.lower() != 'none':
            return checkpoint
        import torch
        path = osp.join(self.onnx_dir, f'initial_{len(self._initial)}.pth')
        torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
        self._initial.append(path)
        return path

    def onnx_file(self, config: str, checkpoint: str, cfg_options: Optional[dict],
                  backend: str, input_size: Tuple[int, int]) -> str:
        """The graph of ``config``'s classifier with ``checkpoint`` loaded, for
        ``(H, W)`` inputs (its patch sizes up to ``H x W``), checked in
        ``backend`` (a difference above :data:`ATOL` is an error naming the
        file)."""
        tool = _export_tool()
        model, cfg = tool.build_model(config, checkpoint, cfg_options)
        classifier = cfg.model.classifier.to_dict()
        classifier.pop('init_cfg', None)  # the checkpoint gives the weights
        side = max(input_size)
        full = model.localizer is None or model.mode == 'full'
        low = min(input_size) if full else None
        module, kind, num_classes, lo, hi = tool.graph_of(model, 'classifier', side, low)
        key = (osp.realpath(checkpoint), lo, hi, json.dumps(
            [classifier, tool.normalisation_of(model)], sort_keys=True, default=str))
        path = self._files.get(key)
        if path is None:
            stem = (f'{osp.splitext(osp.basename(config))[0]}__'
                    f'{osp.splitext(osp.basename(checkpoint))[0]}')
            path = osp.join(self.onnx_dir, f'{stem}.onnx')
            n = 1
            while path in self._files.values():
                n += 1
                path = osp.join(self.onnx_dir, f'{stem}_{n}.onnx')
            from mmfsod.classification.models.utils.onnx_export import export_onnx
            export_onnx(module, path, kind, num_classes, lo, hi, meta=dict(
                config=config, checkpoint=checkpoint,
                input=tool.normalisation_of(model)))
            self._files[key] = path
        if (path, backend) not in self._checked:
            self._checked[(path, backend)] = self._check(module, path, backend, lo, hi)
        print(f'{backend}: {path} ({num_classes} classes, input {lo}..{hi} px, max '
              f'|onnx - pytorch| {self._checked[(path, backend)]:.2g})')
        return path

    @staticmethod
    def _check(module, path: str, backend: str, lo: int, hi: int) -> float:
        """The graph in ``backend`` against ``module`` at the smallest, a
        middle and the largest side (as export_onnx.py checks)."""
        from mmfsod.classification.models.utils.inference_backends import (
            build_engine, max_abs_diff)
        from mmfsod.classification.models.utils.onnx_export import update_sidecar
        sizes = sorted({lo, (lo + hi) // 2, hi})
        diff = max_abs_diff(module, build_engine(backend, path, 1), sizes, batch=1)
        update_sidecar(path, max_abs_diff=diff, checked_with=backend,
                       checked_sizes=sizes)
        if diff > ATOL:
            raise ValueError(f'{path}: max |onnx - pytorch| {diff:.3g} > {ATOL:g} in '
                             f'{backend} (sizes {sizes})')
        return diff


def engine_options(cfg_options: Optional[dict], backend: str, onnx_file: str) -> dict:
    """``cfg_options`` with the classifier in ``backend`` reading ``onnx_file``."""
    options = dict(cfg_options or {})
    options['model.backend'] = backend
    options['model.backend_cfg'] = dict(onnx_file=onnx_file)
    return options


def agreement_lines(rows: List[dict]) -> List[str]:
    """Per engine: on how many images its predictions equal the PyTorch row
    of the same config (rows carry ``backend``, ``config_row`` and
    ``same_as_pytorch``: ``[equal, images]`` or None)."""
    lines = []
    for engine in ENGINES:
        mine = [r for r in rows if r['backend'] == engine]
        if not mine:
            continue
        compared = [r for r in mine if r['same_as_pytorch'] is not None]
        if not compared:
            lines.append(f'{engine}: no PyTorch rows to compare with (add pytorch to '
                         '--backends)')
            continue
        equal = sum(r['same_as_pytorch'][0] for r in compared)
        total = sum(r['same_as_pytorch'][1] for r in compared)
        differ = [f'{r["run"]} {r["top1"]:.1f} vs {r["pytorch_top1"]:.1f}'
                  for r in compared if abs(r['top1'] - r['pytorch_top1']) > 1e-9]
        lines.append(f'{engine}: predictions equal PyTorch\'s on {equal} of {total} '
                     f'images ({len(compared)} rows); top-1 '
                     + ('DIFFERS: ' + ', '.join(differ) if differ else 'equal in every row'))
    return lines


def compare(rows: List[dict], labels: List[List[int]]) -> None:
    """Set ``same_as_pytorch`` and ``pytorch_top1`` of every engine row from
    the PyTorch row of the same ``config_row`` (``labels``: each row's
    predicted labels, image by image)."""
    torch_rows = {r['config_row']: i for i, r in enumerate(rows)
                  if r['backend'] == 'pytorch'}
    for i, row in enumerate(rows):
        ref = torch_rows.get(row['config_row'])
        if row['backend'] == 'pytorch' or ref is None:
            row['same_as_pytorch'] = None
            continue
        equal = sum(a == b for a, b in zip(labels[i], labels[ref]))
        row['same_as_pytorch'] = [int(equal), len(labels[i])]
        row['pytorch_top1'] = rows[ref]['top1']


def _export_tool():
    """tools/deployment/export_onnx.py as a module (build_model, graph_of)."""
    import sys
    module = sys.modules.get('_mmfsod_export_onnx_tool')
    if module is None:
        path = osp.join(REPO, 'tools', 'deployment', 'export_onnx.py')
        spec = importlib.util.spec_from_file_location('_mmfsod_export_onnx_tool', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules['_mmfsod_export_onnx_tool'] = module
    return module
