"""A lint over ``mmfsod/``: every tensor made from scratch says on which
device (``device=``), or is in the allow-list below with the reason it
belongs on the CPU.

A factory without ``device=`` makes a CPU tensor; mixed with the model's
CUDA tensors it fails at test time on a GPU only (the TP/FP hook's ``taken``
mask did). ``*_like`` factories and ``Tensor.new_*`` inherit the device and
are not listed. Legacy constructors (``torch.LongTensor(...)`` etc.) and
``torch.from_numpy`` are always on the CPU and are listed too.
"""
import ast
import os
import os.path as osp
from typing import Dict, List, Tuple

from conftest import REPO

FACTORIES = frozenset({
    'arange', 'as_tensor', 'bernoulli', 'empty', 'empty_strided', 'eye', 'full',
    'linspace', 'logspace', 'multinomial', 'normal', 'ones', 'rand', 'randint', 'randn',
    'randperm', 'range', 'scalar_tensor', 'tensor', 'tril_indices', 'triu_indices',
    'zeros'})
CPU_ONLY = frozenset({
    'from_numpy', 'Tensor', 'FloatTensor', 'DoubleTensor', 'HalfTensor', 'LongTensor',
    'IntTensor', 'ShortTensor', 'CharTensor', 'ByteTensor', 'BoolTensor'})

# (file under mmfsod/, enclosing class.function, torch.<name>) -> why the CPU
# is right there. Keys name the function, not a line, so they survive edits.
ALLOWED: Dict[Tuple[str, str, str], str] = {
    ('classification/apis/early_exit_calibration.py', 'record_split', 'as_tensor'):
        'reads a label value with int()/numel(); as_tensor keeps a tensor\'s device',
    ('classification/evaluation/patch_cost_metric.py', 'PatchCostMetric.process',
     'as_tensor'):
        'metric reads label values with int(); as_tensor keeps a tensor\'s device',
    ('classification/engine/lsp_drawing.py', 'draw_attention_maps', 'from_numpy'):
        'CPU-only numpy boundary: a drawn canvas handed to the visualizer',
    ('detection/datasets/support_packing.py', 'pack_supports', 'tensor'):
        'dataset side (CPU workers); the data preprocessor moves batches to the device',
    ('detection/datasets/query_support.py', 'QuerySupportDataset._load_item', 'tensor'):
        'dataset side (CPU workers); the data preprocessor moves batches to the device',
    ('classification/models/utils/inference_backends.py', 'InferenceEngine.__call__',
     'from_numpy'):
        'an engine\'s outputs are host arrays (ONNX Runtime / OpenVINO run on the CPU); '
        'they are moved to the input\'s device right after',
    ('classification/models/utils/anchornet_backend.py', 'decide_and_map',
     'from_numpy'):
        'the heatmap is LSP\'s input, a host array: made in NumPy from the engine\'s '
        'host outputs (LSP and the crops index with host boxes)',
    ('classification/models/utils/inference_backends.py', 'max_abs_diff', 'randn'):
        'the export check runs the exported module (built on the CPU for export) and the '
        'engine on host inputs from a seeded CPU generator',
    ('detection/models/layers/graph_correspondence.py', 'GraphCorrespondence.__init__',
     'tensor'):
        'a parameter made at build time; Module.to moves it with the model',
    ('detection/models/utils/box_predictor_surgery.py', 'assemble_box_predictor',
     'zeros'):
        'checkpoint surgery on host state dicts; a CPU torch.Generator draws the new rows',
    ('engine/random_states.py', 'global_random_states', 'tensor'):
        'RNG states are host data (Python/numpy/torch CPU generator states)',
    ('engine/random_states.py', '_generator_state', 'tensor'):
        'RNG states are host data (a torch.Generator state is a CPU byte tensor)',
    ('engine/random_states.py', '_np_state_to_dict.conv', 'from_numpy'):
        'RNG states are host data (numpy generator state saved as a CPU tensor)',
    ('engine/index_skip_loop.py', 'IndexSkipIterBasedTrainLoop.__init__', 'empty'):
        'a draw from the DataLoader\'s CPU generator, as torch\'s DataLoader draws '
        'its base seed',
}


def device_free_calls(root: str) -> List[Tuple[str, str, str, int, str]]:
    """``(file, qualname, name, line, source)`` of every ``torch.<factory>``
    call without ``device=`` (and every CPU-only constructor) under ``root``."""
    found = []
    for folder, _, files in os.walk(root):
        for fname in sorted(files):
            if not fname.endswith('.py'):
                continue
            path = osp.join(folder, fname)
            rel = osp.relpath(path, root).replace(os.sep, '/')
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read(), filename=path)
            found.extend(_visit(tree, rel, []))
    return found


def _visit(node, rel, scope):
    out = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.extend(_visit(child, rel, scope + [child.name]))
            continue
        if isinstance(child, ast.Call):
            func = child.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == 'torch'):
                has_device = any(k.arg == 'device' for k in child.keywords)
                if (func.attr in FACTORIES and not has_device) or func.attr in CPU_ONLY:
                    out.append((rel, '.'.join(scope) or '<module>', func.attr,
                                child.lineno, ast.unparse(child)[:80]))
        out.extend(_visit(child, rel, scope))
    return out


def test_tensor_factories_name_their_device():
    calls = device_free_calls(osp.join(REPO, 'mmfsod'))
    bad = [f'mmfsod/{rel}:{line} in {qual}: {src}'
           for rel, qual, name, line, src in calls if (rel, qual, name) not in ALLOWED]
    assert not bad, ('tensors made without device= (pass the device of the tensors '
                     'they meet, e.g. device=x.device; or add an ALLOWED entry with '
                     'the reason the CPU is right):\n' + '\n'.join(bad))
    used = {(rel, qual, name) for rel, qual, name, _, _ in calls}
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f'ALLOWED entries that match no call any more: {stale}'


def test_lint_finds_device_free_factories(tmp_path):
    """The lint can fail: it finds the TP/FP hook's old CPU mask, in a
    method, and leaves device-carrying and inheriting factories alone."""
    (tmp_path / 'mod.py').write_text(
        'import torch\n'
        'class A:\n'
        '    def f(self, gt_boxes, x):\n'
        '        taken = torch.zeros(len(gt_boxes), dtype=torch.bool)\n'
        '        ok = torch.zeros(3, device=x.device)\n'
        '        like = torch.zeros_like(x) + x.new_zeros(3)\n'
        '        return torch.LongTensor([1]), torch.tensor([1], device=x.device)\n'
        'TABLE = torch.arange(4)\n')
    found = [(qual, name, line) for _, qual, name, line, _ in device_free_calls(str(tmp_path))]
    assert found == [('A.f', 'zeros', 4), ('A.f', 'LongTensor', 7), ('<module>', 'arange', 8)]
