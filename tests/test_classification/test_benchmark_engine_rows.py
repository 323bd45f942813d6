"""benchmark_patch_pipeline.py --backends: every CONFIG CKPT row again with
the classifier exported to ONNX and run in an engine, the same predictions
as the PyTorch row; an engine that is not installed is one line. And
toy_patch_seeds.py's table with one CPU ms column per backend."""
import json
import os.path as osp
import sys

import pytest
import torch

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import _engine_rows as engine_rows  # noqa: E402
import benchmark_patch_pipeline as bench  # noqa: E402
import toy_patch_seeds  # noqa: E402

EXTRA = "the deploy extra is not installed: pip install -e '.[deploy]'"
TOY = osp.join(REPO, 'configs', 'anchornet', 'toy', 'downstream')
PATCHES = osp.join(TOY, 'resnet18-w16_anchornet-lsp-all-patches_toy-clutter.py')
FULL = osp.join(TOY, 'resnet18-w16_toy-clutter_full.py')
needs_ort = pytest.mark.skipif(not engine_rows.installed('onnxruntime'),
                               reason=f'onnxruntime missing ({EXTRA})')
needs_ov = pytest.mark.skipif(not engine_rows.installed('openvino'),
                              reason=f'openvino missing ({EXTRA})')


@pytest.fixture(scope='module')
def options(tmp_path_factory):
    """--cfg-options: a 6-image toy clutter set, AnchorNet's random weights."""
    root = str(tmp_path_factory.mktemp('clutter') / 'clutter') + '/'
    return ['test_dataloader.dataset.data_root=' + root,
            'test_dataloader.dataset.generate.num_train=6',
            'test_dataloader.dataset.generate.num_val=6',
            'test_dataloader.dataset.generate.num_holdout=0',
            'model.localizer_checkpoint=None']


def run(argv, options, capsys):
    torch.manual_seed(0)  # the random weights ('none'); the engine rows reuse them
    rows = bench.main(argv + ['--threads', '1', '--cfg-options'] + options)
    return rows, capsys.readouterr().out.strip().splitlines()


def check_engine_rows(rows, lines, engine, configs, images):
    """PyTorch rows first, then the engine's: the same predictions, top-1,
    patches and MACs; the summary line last."""
    torch_rows, engine_rows_ = rows[:len(configs)], rows[len(configs):]
    assert [r['backend'] for r in torch_rows] == ['pytorch'] * len(configs)
    assert [r['backend'] for r in engine_rows_] == [engine] * len(configs)
    for ref, row in zip(torch_rows, engine_rows_):
        assert row['run'] == f'{ref["run"]} ({engine})'
        assert row['same_as_pytorch'] == [images, images]
        for key in ('top1', 'patches', 'anchornet_gmacs', 'classifier_gmacs', 'mode'):
            assert row[key] == ref[key], key
        assert row['classifier_ms'] > 0
    assert lines[-1] == (f"{engine}: predictions equal PyTorch's on "
                         f'{images * len(configs)} of {images * len(configs)} images '
                         f'({len(configs)} rows); top-1 equal in every row')


@needs_ort
def test_onnxruntime_rows_equal_pytorch(tmp_path, options, capsys):
    """The patch config (BN folded and traced as the benchmark runs it, in
    PyTorch) and the full image: the exported checkpoint in ONNX Runtime
    gives the same predictions; the graphs and sidecars stay in --onnx-dir."""
    onnx_dir = tmp_path / 'onnx'
    out = str(tmp_path / 'table.json')
    rows, lines = run([PATCHES, 'none', FULL, 'none', '--num-images', '3', '--warmup',
                       '0', '--backends', 'pytorch', 'best', '--onnx-dir', str(onnx_dir),
                       '--out', out], options, capsys)
    check_engine_rows(rows, lines, 'onnxruntime', [PATCHES, FULL], 3)
    assert rows[0]['patches'] > 1  # several patches per image went through the engine
    table = lines[lines.index(next(line for line in lines if line.startswith('run ')))
                  + 2:]
    assert table[2].split(' | ')[-1].strip() == '3/3'  # the column preds = PyTorch
    graphs = sorted(p.name for p in onnx_dir.glob('*.onnx'))
    assert len(graphs) == 2
    for graph in graphs:
        meta = json.loads((onnx_dir / graph.replace('.onnx', '.json')).read_text())
        assert meta['max_abs_diff'] < 1e-4 and meta['checked_with'] == 'onnxruntime'
    with open(out) as f:
        assert [r['backend'] for r in json.load(f)['rows']] == \
            ['pytorch', 'pytorch', 'onnxruntime', 'onnxruntime']


@needs_ov
@pytest.mark.own_process  # OpenVINO outside the suite's process (tests/conftest.py)
def test_openvino_rows_equal_pytorch(options, capsys):
    rows, lines = run([FULL, 'none', '--num-images', '2', '--warmup', '0',
                       '--compile', 'none', '--backends', 'openvino', 'pytorch'],
                      options, capsys)
    check_engine_rows(rows, lines, 'openvino', [FULL], 2)


def test_missing_engine_is_one_line(monkeypatch, options, capsys):
    monkeypatch.setattr(engine_rows, 'installed', lambda engine: False)
    rows, lines = run([FULL, 'none', '--num-images', '1', '--warmup', '0', '--compile',
                       'none', '--backends', 'pytorch', 'best'], options, capsys)
    assert [r['backend'] for r in rows] == ['pytorch']
    notes = [line for line in lines if 'not installed' in line or 'no inference' in line]
    assert notes == ["--backends best: no inference engine is installed (onnxruntime or "
                     "openvino: pip install -e '.[deploy]'); PyTorch rows only"]
    assert not any(line.startswith(('onnxruntime:', 'openvino:')) for line in lines)
    assert engine_rows.resolve_backends(['openvino', 'pytorch'], lambda e: False)[1] == [
        "--backends: openvino is not installed (the deploy extra: pip install -e "
        "'.[deploy]'); no openvino rows"]
    assert engine_rows.resolve_backends(['best', 'pytorch', 'openvino'],
                                        lambda e: e == 'openvino') == (
        ['pytorch', 'openvino'], [])


def test_backend_flags_belong_to_their_mode():
    with pytest.raises(SystemExit):  # the operating point takes --backend
        bench.parse_args(['--paper-operating-point', '--backends', 'onnxruntime'])
    with pytest.raises(SystemExit):  # CONFIG CKPT rows take --backends
        bench.parse_args(['cfg.py', 'ckpt.pth', '--backend', 'onnxruntime'])
    assert bench.parse_args(['cfg.py', 'ckpt.pth']).backends == ['pytorch']


def test_seeds_table_gives_cpu_ms_per_backend():
    """toy_patch_seeds: the benchmark's rows of two seeds (PyTorch, then ONNX
    Runtime) become one CPU ms column per backend and one agreement line."""
    def seed(ms, ort_ms):
        rows = [dict(backend='pytorch', total_ms=ms + i, top1=50.0 + i, patches=1.0,
                     anchornet_gmacs=0.03, classifier_gmacs=0.1, total_gmacs=0.13)
                for i in range(len(toy_patch_seeds.ROWS))]
        rows += [dict(r, backend='onnxruntime', total_ms=ort_ms + i,
                      same_as_pytorch=[40, 40]) for i, r in enumerate(rows)]
        return toy_patch_seeds.by_row(rows)

    summary, table, notes = toy_patch_seeds.summarise([seed(10.0, 6.0), seed(12.0, 8.0)])
    header = table.splitlines()[0]
    assert '| CPU ms PyTorch | CPU ms ONNX Runtime | top-1 % |' in header
    first = table.splitlines()[2]
    assert first.startswith('| all patches |')
    assert '| 11.00 ± 1.41 | 7.00 ± 1.41 | 50.0 ± 0.0 |' in first
    assert notes == ["ONNX Runtime: predictions equal PyTorch's on 400 of 400 images "
                     '(5 rows x 2 seeds)']
    assert summary['full image']['ms_onnxruntime']['values'] == [10.0, 12.0]
    # a benchmark.json of PyTorch rows only (no backend key): the old table
    old = [{k: v for k, v in r.items() if k != 'backend'}
           for r in [dict(total_ms=5.0, top1=1.0, patches=1.0, anchornet_gmacs=0.0,
                          classifier_gmacs=0.1, total_gmacs=0.1)] * 5]
    _, table, notes = toy_patch_seeds.summarise([toy_patch_seeds.by_row(old)])
    assert '| CPU ms | top-1 % |' in table.splitlines()[0] and notes == []


def test_seeds_default_backends_are_the_installed_ones(monkeypatch):
    monkeypatch.setattr(engine_rows, 'installed', lambda engine: engine == 'openvino')
    assert toy_patch_seeds.parse_args([]).backends == ['pytorch', 'openvino']
    args = toy_patch_seeds.parse_args(['--seeds', '1', '2', '--skip-existing',
                                       '--threads', '1', '--backends', 'pytorch'])
    assert (args.seeds, args.skip_existing, args.threads, args.backends) == (
        [1, 2], True, 1, ['pytorch'])


@needs_ort
def test_onnxruntime_threads_do_not_spin(tmp_path):
    """The engine's intra-op threads sleep after a run (spinning ones took
    the cores from the PyTorch work between the engine's calls)."""
    from mmfsod.classification.models.utils import inference_backends as ib
    from mmfsod.classification.models.utils.onnx_export import (ClassifierLogits,
                                                                export_onnx)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)

        def forward(self, x, mode='tensor'):
            return self.fc(x.mean(dim=(2, 3)))  # (N, 4)

    path = str(tmp_path / 'tiny.onnx')
    export_onnx(ClassifierLogits(Tiny()), path, 'classifier', 4, 8, 16)
    engine = ib.build_engine('onnxruntime', path, num_threads=2)
    options = engine.session.get_session_options()
    assert options.get_session_config_entry('session.intra_op.allow_spinning') == '0'
    assert options.intra_op_num_threads == 2
