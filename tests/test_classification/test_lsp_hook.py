"""LSPHook, LSPRecorder and the folder inference API / CLI on a tiny toy
clutter set (128 px) with a quarter-width AnchorNet (random weights)."""
import copy
import glob
import json
import os
import os.path as osp
import runpy
import shutil

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample

from conftest import REPO, run_tool
from mmfsod.classification import lsp
from mmfsod.classification.engine import (LSPHook, LSPRecorder, attention_canvas,
                                          read_lsp_records, resolve_lsp_setting)
from mmfsod.utils.toy_clutter import generate_toy_clutter

NAMES = ('B63', 'B95', 'B111')
RF = {'B63': 63, 'B95': 95, 'B111': 111}
TINY = dict(num_train=12, num_val=6, img_size=128, seed=0)
TOY_CONFIG = osp.join(REPO, 'configs', 'anchornet', 'toy', 'anchornet_toy-clutter.py')
LSP_CONFIG = osp.join(REPO, 'configs', 'anchornet', 'toy',
                      'anchornet_toy-clutter_lsp-visualisation.py')
RECORD_KEYS = {'img_path', 'sample_idx', 'input_size', 'ori_shape', 'gt_label',
               'pred_label', 'branch', 'branch_scores', 'setting', 'patches'}


@pytest.fixture(scope='module')
def tiny_clutter(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('lsp') / 'toy_clutter') + '/'
    generate_toy_clutter(root, **TINY)
    return root


def tiny_model():
    """The toy config's quarter-width AnchorNet with random weights, made
    decisive so that the branch decision does not hang on rounding: BN
    statistics measured on two random batches (fresh ones shrink the
    features ~1e4-fold) and logits convs of std 1 (not 0.01)."""
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.model.data_preprocessor = cfg.data_preprocessor  # as the runner does
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for conv in model.head.logits_convs.values():
        torch.nn.init.normal_(conv.weight, std=1.0)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model.extract_feat(torch.randn(4, 3, 128, 128))
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'anchornet_random.pth')
    torch.save({'state_dict': tiny_model().state_dict(), 'meta': {}}, path)
    return path


def _test_cfg(root, ckpt, work_dir, **hook):
    cfg = Config.fromfile(LSP_CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.load_from = ckpt
    cfg.test_dataloader.merge(dict(batch_size=4, num_workers=0,
                                   persistent_workers=False))
    cfg.test_dataloader.dataset.data_root = root
    cfg.test_dataloader.dataset.generate = TINY
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], **hook)]
    cfg.default_hooks.logger.interval = 1
    return cfg


# ----------------------------------------------------------------- settings
def test_resolve_setting_paper_and_dict():
    assert resolve_lsp_setting('visualisation', NAMES) == {
        'B63': dict(k_max=5, iou_thr=0.3, coverage=0.05),
        'B95': dict(k_max=3, iou_thr=0.3, coverage=0.04),
        'B111': dict(k_max=2, iou_thr=0.3, coverage=0.03)}
    assert resolve_lsp_setting('downstream', NAMES)['B95'] == dict(
        k_max=10, iou_thr=0.8, coverage=0.3)
    custom = {n: dict(k_max=1, iou_thr=1, coverage=1) for n in NAMES}
    assert resolve_lsp_setting(custom, NAMES)['B63'] == dict(
        k_max=1, iou_thr=1.0, coverage=1.0)


@pytest.mark.parametrize('setting, match', [
    ('visualization', r"setting 'visualization' is unknown.*'downstream', "
                      r"'visualisation'"),
    ({'B63': dict(k_max=0, iou_thr=0.3, coverage=0.1)}, r"'B63': k_max \(K\).*>= 1"),
    ({'B63': dict(k_max=2.5, iou_thr=0.3, coverage=0.1)}, r"'B63': k_max \(K\)"),
    ({'B95': dict(k_max=2, iou_thr=0, coverage=0.1)},
     r"'B95': iou_thr \(T\).*\(0, 1\]"),
    ({'B95': dict(k_max=2, iou_thr=1.2, coverage=0.1)}, r"'B95': iou_thr \(T\)"),
    ({'B111': dict(k_max=2, iou_thr=0.3, coverage=0)}, r"'B111': coverage \(P\)"),
    ({'B111': dict(k_max=2, iou_thr=0.3, coverage=1.5)}, r"'B111': coverage \(P\)"),
    ({'B111': dict(k_max=2, iou_thr=0.3)}, r"'B111': expected exactly the keys"),
])
def test_resolve_setting_errors(setting, match):
    with pytest.raises(ValueError, match=match):
        resolve_lsp_setting(setting)
    with pytest.raises(ValueError, match=match):
        LSPHook(setting=setting)


def test_setting_branch_names_must_match_the_model():
    table = {n: dict(v) for n, v in lsp.DOWNSTREAM.items()}
    with pytest.raises(ValueError, match=r"unknown branch name\(s\) \['B64'\]"):
        resolve_lsp_setting(dict(table, B64=dict(table['B63'])), NAMES)
    del table['B95']
    with pytest.raises(ValueError, match=r"no arguments for branch\(es\) \['B95'\]"):
        resolve_lsp_setting(table, NAMES)
    with pytest.raises(ValueError, match='out_file must be a .jsonl'):
        LSPHook(out_file='patches.json')
    assert isinstance(HOOKS.build(dict(type='LSPHook', setting='visualisation')),
                      LSPHook)


# ----------------------------------------------------------------- recorder
def _predict(model, size, metas):
    x = torch.randn(len(metas), 3, *size, generator=torch.Generator().manual_seed(1))
    samples = [DataSample(metainfo=m).set_gt_label(i % 6) for i, m in enumerate(metas)]
    with torch.no_grad():
        return model(x, samples, mode='predict')


def test_record_equals_independent_lsp():
    """Boxes / activations = a direct Algorithm 1 call on the same heatmap;
    box side = the branch RF; ori_box = box / scale factor."""
    model = tiny_model()
    sx, sy = 135 / 180, 135 / 270  # a 270 x 180 (h x w) image resized to 135 x 135
    metas = [dict(img_path=f'img{i}.jpg', sample_idx=i, img_shape=(135, 135),
                  ori_shape=(270, 180), scale_factor=(sx, sy)) for i in range(3)]
    results = _predict(model, (135, 135), metas)
    geo = model.backbone.geometry(135)  # independent of the recorder's cache
    for setting, table in (('visualisation', lsp.VISUALISATION),
                           ('downstream', lsp.DOWNSTREAM)):
        recorder = LSPRecorder(model.backbone, setting)
        for i, sample in enumerate(results):
            record = recorder(sample)
            assert set(record) == RECORD_KEYS
            theta = sample.branch
            expected = lsp.localize_semantic_patches(
                sample.heatmap.numpy(), geo[theta].boxes, **table[theta])
            assert record['branch'] == theta and record['sample_idx'] == i
            assert record['input_size'] == [135, 135]
            assert record['ori_shape'] == [270, 180]
            assert record['gt_label'] == i % 6
            assert record['pred_label'] == int(sample.pred_label)
            assert record['setting'] == dict(table[theta])
            boxes = [p['box'] for p in record['patches']]
            assert boxes == expected.boxes.tolist()
            np.testing.assert_allclose([p['activation'] for p in record['patches']],
                                       expected.activations, rtol=1e-6)
            for p in record['patches']:
                x1, y1, x2, y2 = p['box']
                assert x2 - x1 == y2 - y1 == RF[theta]
                assert 0 <= x1 and x2 <= 135 and 0 <= y1 and y2 <= 135
                assert p['ori_box'] == [x1 / sx, y1 / sy, x2 / sx, y2 / sy]
            assert record['branch_scores'].keys() == set(NAMES)
            np.testing.assert_allclose(record['branch_scores'][theta],
                                       sample.pred_score.numpy(), rtol=1e-6)
            json.dumps(record)  # plain JSON types only


def test_record_errors_and_ties():
    model = tiny_model()
    meta = dict(img_path='x.jpg', sample_idx=0, img_shape=(128, 128),
                ori_shape=(128, 128))
    recorder = LSPRecorder(model.backbone, 'visualisation')
    sample = _predict(model, (128, 128), [meta])[0]

    bad = copy.deepcopy(sample)
    bad.set_metainfo(dict(branch='B64'))
    with pytest.raises(ValueError, match=r"x.jpg: unknown branch name 'B64'"):
        recorder(bad)

    nan = copy.deepcopy(sample)
    nan.heatmap[0, 0] = float('nan')
    with pytest.raises(ValueError, match='x.jpg: LSP: heatmap contains NaN'):
        recorder(nan)

    # ties: equal activations keep row-major order (documented in lsp)
    flat = copy.deepcopy(sample)
    flat.heatmap = torch.zeros_like(flat.heatmap)
    rf = RF[flat.branch]
    assert recorder(flat)['patches'][0]['box'] == [0, 0, rf, rf]

    with pytest.raises(ValueError, match=r'x.jpg: the network input is 100x128, '
                                         r'smaller than the largest receptive '
                                         r'field 111x111'):
        recorder.check_input((100, 128), 'x.jpg')

    cropped = copy.deepcopy(sample)  # e.g. ResizeEdge(160) + CenterCrop(128)
    cropped.set_metainfo(dict(ori_shape=(200, 160), scale_factor=(1.0, 1.0)))
    with pytest.raises(ValueError, match='x.jpg: the test pipeline .* more than a '
                                         'resize'):
        recorder(cropped)

    padded = copy.deepcopy(sample)  # padded in a batch of larger images
    padded.set_metainfo(dict(img_shape=(120, 128), ori_shape=(120, 128)))
    with pytest.raises(ValueError, match='was padded beyond the image'):
        recorder(padded)

    with pytest.raises(TypeError, match="no `geometry"):
        LSPRecorder(torch.nn.Conv2d(3, 3, 1))


def test_attention_canvas_alignment():
    geo = lsp.branch_geometry(128, {'B': [(3, 2, 0), (3, 2, 0), (3, 2, 0)]})['B']
    # rf 15, stride 8, 128 px -> 15 x 15 map; cell of (i, j) centred on its patch
    att = np.arange(geo.num_locations, dtype=np.float32).reshape(geo.map_size)
    canvas = attention_canvas(att, geo)
    assert canvas.shape == (128, 128)
    first = (15 - 8) // 2  # 3: the first cell starts here
    assert canvas[first + 3, first + 3] == pytest.approx(att[0, 0], abs=0.5)
    i, j = 4, 9  # the patch [72, 32, 87, 47] is centred at (79.5, 39.5)
    assert canvas[32 + 7, 72 + 7] == pytest.approx(att[i, j], abs=1.0)
    assert canvas[0, 0] == att.min()  # border no cell covers


# ----------------------------------------------------------------- the hook
def test_hook_writes_records_and_pictures(tiny_clutter, tiny_ckpt, tmp_path):
    cfg = _test_cfg(tiny_clutter, tiny_ckpt, tmp_path, num_draw=2)
    runner = Runner.from_cfg(cfg)
    runner.test()
    files = glob.glob(osp.join(str(tmp_path), '*', 'lsp_patches_visualisation.jsonl'))
    assert len(files) == 1
    records = read_lsp_records(files[0])
    assert [r['sample_idx'] for r in records] == list(range(6))  # dataset order
    labels = [int(line.split()[1]) for line in open(osp.join(tiny_clutter, 'meta',
                                                             'val.txt'))]
    # independently: the checkpoint's model on the same images, Algorithm 1
    model = tiny_model()
    model.load_state_dict(torch.load(tiny_ckpt)['state_dict'])
    geo = model.backbone.geometry(128)
    for record, label in zip(records, labels):
        assert set(record) == RECORD_KEYS and record['gt_label'] == label
        img = mmcv.imread(record['img_path'])  # BGR, as the pipeline reads it
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
        with torch.no_grad():
            sample = model(model.data_preprocessor({'inputs': x})['inputs'],
                           mode='predict')[0]
        theta = sample.branch
        expected = lsp.localize_semantic_patches(sample.heatmap.numpy(), geo[theta],
                                                 **lsp.VISUALISATION[theta])
        assert record['branch'] == theta
        assert record['pred_label'] == int(sample.pred_label)
        assert [p['box'] for p in record['patches']] == expected.boxes.tolist()
        np.testing.assert_allclose([p['activation'] for p in record['patches']],
                                   expected.activations, rtol=1e-4, atol=1e-7)
        assert 1 <= len(record['patches']) <= lsp.VISUALISATION[theta]['k_max']
        for p in record['patches']:
            assert p['box'][2] - p['box'][0] == RF[theta]
            assert p['ori_box'] == [float(v) for v in p['box']]  # no resize
    pictures = sorted(osp.basename(p) for p in glob.glob(
        osp.join(str(tmp_path), '*', 'lsp_vis', '*.png')))
    assert pictures == ['000000_000000_attention.png', '000000_000000_patches.png',
                        '000001_000001_attention.png', '000001_000001_patches.png']
    vis_dir = osp.dirname(glob.glob(osp.join(str(tmp_path), '*', 'lsp_vis'))[0] + '/')
    attention = mmcv.imread(osp.join(vis_dir, pictures[0]))
    patches = mmcv.imread(osp.join(vis_dir, pictures[1]))
    assert attention.shape[1] == 4 * 128 and attention.shape[0] > 128  # 4 panels
    assert patches.shape[1] == 128 and patches.shape[0] > 128  # with its caption


def test_hook_refuses_small_images(tiny_ckpt, tmp_path):
    root = str(tmp_path / 'small') + '/'
    small = dict(TINY, img_size=96)  # < RF 111
    generate_toy_clutter(root, **small)
    cfg = _test_cfg(root, tiny_ckpt, tmp_path / 'wd')
    cfg.test_dataloader.dataset.generate = small
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'val/blue_circle/000000.jpg: the network '
                                         r'input is 96x96, smaller than the largest '
                                         r'receptive field 111x111'):
        runner.test()


# ------------------------------------------------------- folder API and CLI
def test_folder_cli_matches_hook(tiny_clutter, tiny_ckpt, tmp_path):
    cfg = _test_cfg(tiny_clutter, tiny_ckpt, tmp_path / 'hook', draw=False)
    Runner.from_cfg(cfg).test()
    hook_records = read_lsp_records(
        glob.glob(str(tmp_path / 'hook' / '*' / '*.jsonl'))[0])
    img_dir = tmp_path / 'imgs'
    os.makedirs(img_dir)
    chosen = hook_records[1:4]
    for r in chosen:
        shutil.copy(r['img_path'], img_dir / osp.basename(r['img_path']))
    out = tmp_path / 'folder'
    proc = run_tool(['tools/analysis_tools/localize_patches.py', LSP_CONFIG, tiny_ckpt,
                     str(img_dir), '--out-dir', str(out), '--setting', 'visualisation',
                     '--draw', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert '3 LSP patch records (visualisation setting) written' in proc.stdout
    records = read_lsp_records(str(out / 'lsp_patches.jsonl'))
    assert [osp.basename(r['img_path']) for r in records] == \
        [osp.basename(r['img_path']) for r in chosen]
    for got, want in zip(records, chosen):
        assert got['gt_label'] is None
        for key in ('input_size', 'ori_shape', 'pred_label', 'branch', 'setting'):
            assert got[key] == want[key], key
        assert [p['box'] for p in got['patches']] == [p['box'] for p in want['patches']]
        assert [p['ori_box'] for p in got['patches']] == \
            [p['ori_box'] for p in want['patches']]
        np.testing.assert_allclose([p['activation'] for p in got['patches']],
                                   [p['activation'] for p in want['patches']],
                                   rtol=1e-4, atol=1e-7)
    assert sorted(os.listdir(out / 'vis')) == [
        f'000000_{osp.splitext(osp.basename(chosen[0]["img_path"]))[0]}_{kind}.png'
        for kind in ('attention', 'patches')]


def test_folder_cli_errors(tiny_ckpt, tmp_path, capsys):
    cli = runpy.run_path(osp.join(REPO, 'tools', 'analysis_tools',
                                  'localize_patches.py'))
    with pytest.raises(FileNotFoundError, match='holds no image'):
        cli['main']([TOY_CONFIG, tiny_ckpt, str(tmp_path), '--out-dir',
                     str(tmp_path / 'o')])
    with pytest.raises(FileNotFoundError, match="image folder '/nowhere' does not"):
        cli['main']([TOY_CONFIG, tiny_ckpt, '/nowhere', '--out-dir', str(tmp_path)])
    with pytest.raises(SystemExit):
        cli['main']([TOY_CONFIG, tiny_ckpt, str(tmp_path), '--out-dir',
                     str(tmp_path / 'o'), '--setting', 'fig3'])
    assert "invalid choice: 'fig3'" in capsys.readouterr().err


def test_hook_two_processes_match_one(tiny_ckpt, tmp_path):
    """2 CPU processes (gloo): the records are gathered, the sampler's padding
    copy dropped, written once in dataset order, equal to one process's."""
    root = str(tmp_path / 'seven') + '/'
    seven = dict(TINY, num_val=7)  # 7 images on 2 ranks: one padding copy
    generate_toy_clutter(root, **seven)
    cfg = _test_cfg(root, tiny_ckpt, tmp_path / 'one', num_draw=3)
    cfg.test_dataloader.dataset.generate = seven
    Runner.from_cfg(cfg).test()
    one = read_lsp_records(glob.glob(str(tmp_path / 'one' / '*' / '*.jsonl'))[0])
    proc = run_tool(['bash', 'tools/dist_test.sh', LSP_CONFIG, tiny_ckpt, '2',
                     '--work-dir', str(tmp_path / 'two'), '--cfg-options',
                     f'test_dataloader.dataset.data_root={root}',
                     'test_dataloader.dataset.generate.num_train=12',
                     'test_dataloader.dataset.generate.num_val=7',
                     'test_dataloader.dataset.generate.num_holdout=0',
                     'test_dataloader.dataset.generate.img_size=128',
                     'test_dataloader.batch_size=2', 'test_dataloader.num_workers=0',
                     'test_dataloader.persistent_workers=False',
                     'custom_hooks.0.num_draw=3'], env={'PORT': '29741'})
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'rank 0 of world size 2' in proc.stdout, proc.stdout[-4000:]
    files = glob.glob(str(tmp_path / 'two' / '*' / '*.jsonl'))
    assert len(files) == 1
    two = read_lsp_records(files[0])
    assert [r['sample_idx'] for r in two] == list(range(7))
    for a, b in zip(one, two):
        assert a['img_path'] == b['img_path'] and a['branch'] == b['branch']
        assert [p['box'] for p in a['patches']] == [p['box'] for p in b['patches']]
        np.testing.assert_allclose([p['activation'] for p in a['patches']],
                                   [p['activation'] for p in b['patches']],
                                   rtol=1e-4, atol=1e-7)
    pictures = glob.glob(str(tmp_path / 'two' / '*' / 'lsp_vis' / '*'))
    assert sorted(osp.basename(p)[:6] for p in pictures) == \
        ['000000', '000000', '000001', '000001', '000002', '000002']


@pytest.mark.parametrize('name, setting', [
    ('toy/anchornet_toy-clutter_lsp-visualisation.py', 'visualisation'),
    ('toy/anchornet_toy-clutter_lsp-downstream.py', 'downstream'),
    ('imagenet/anchornet_8xb32_in1k_lsp-visualisation.py', 'visualisation'),
    ('imagenet/anchornet_8xb32_in1k_lsp-downstream.py', 'downstream'),
])
def test_lsp_configs(name, setting):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'anchornet', name))
    base = Config.fromfile(osp.join(REPO, 'configs', 'anchornet', osp.dirname(name),
                                    cfg.filename.split('/')[-1].split('_lsp-')[0]
                                    + '.py'))
    assert cfg.model == base.model and cfg.test_dataloader == base.test_dataloader
    (hook, ) = cfg.custom_hooks
    assert hook.type == 'LSPHook' and hook.setting == setting
    assert hook.out_file == f'lsp_patches_{setting}.jsonl'
    built = HOOKS.build(hook)
    assert built.setting == setting
    # the test pipeline only resizes (no crop): boxes map back by a scale
    kinds = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert 'CenterCrop' not in kinds and 'RandomResizedCrop' not in kinds


def test_toy_config_keeps_the_paper_geometry():
    cfg = Config.fromfile(TOY_CONFIG)
    assert cfg.model.backbone.widen_factor == 0.25
    assert cfg.model.head.num_classes == 6 and cfg.clutter_generate.img_size == 224
    geo = tiny_model().backbone.geometry(224)
    assert {n: (g.rf, g.stride, g.map_size) for n, g in geo.items()} == {
        'B63': (63, 8, (21, 21)), 'B95': (95, 8, (17, 17)),
        'B111': (111, 8, (15, 15))}


def test_hook_during_val(tiny_clutter, tiny_ckpt, tmp_path):
    cfg = _test_cfg(tiny_clutter, tiny_ckpt, tmp_path, during_val=True, draw=False)
    cfg.val_dataloader = cfg.test_dataloader
    Runner.from_cfg(cfg).val()
    files = glob.glob(str(tmp_path / '*' / '*.jsonl'))
    assert [osp.basename(f) for f in files] == [
        'lsp_patches_visualisation_val_iter0.jsonl']
    assert len(read_lsp_records(files[0])) == 6
    # without during_val the validation writes nothing
    cfg = _test_cfg(tiny_clutter, tiny_ckpt, tmp_path / 'off', draw=False)
    cfg.val_dataloader = cfg.test_dataloader
    Runner.from_cfg(cfg).val()
    assert glob.glob(str(tmp_path / 'off' / '*' / '*.jsonl')) == []


def test_merge_record_parts(tmp_path):
    """Rank parts merge in sample_idx order, padding copies dropped, sorted
    parts streamed and unsorted ones sorted."""
    from mmfsod.classification.engine.lsp_recorder import merge_lsp_record_parts

    def part(name, idxs):
        path = tmp_path / name
        path.write_text(''.join(json.dumps(dict(sample_idx=i, rank=name)) + '\n'
                                for i in idxs))
        return str(path)

    # 2 ranks, 5 samples, rank 1 padded with a copy of sample 0
    parts = [part('r0', [0, 2, 4]), part('r1', [1, 3, 0])]
    out = str(tmp_path / 'all.jsonl')
    assert merge_lsp_record_parts(parts, out, sorted_parts=False) == 5
    records = read_lsp_records(out)
    assert [r['sample_idx'] for r in records] == [0, 1, 2, 3, 4]
    assert records[0]['rank'] == 'r0'
    parts = [part('s0', [0, 2, 4]), part('s1', [1, 3])]
    assert merge_lsp_record_parts(parts, out) == 5
    assert [r['sample_idx'] for r in read_lsp_records(out)] == [0, 1, 2, 3, 4]


def test_hook_without_branch_scores(tiny_clutter, tiny_ckpt, tmp_path):
    cfg = _test_cfg(tiny_clutter, tiny_ckpt, tmp_path, num_draw=1)
    cfg.custom_hooks[0]['with_branch_scores'] = False
    Runner.from_cfg(cfg).test()
    files = glob.glob(osp.join(str(tmp_path), '*', '*.jsonl'))
    assert len(files) == 1 and not glob.glob(osp.join(str(tmp_path), '*', '*.part*'))
    records = read_lsp_records(files[0])
    assert len(records) == 6
    assert all(set(r) == RECORD_KEYS - {'branch_scores'} for r in records)
    assert glob.glob(osp.join(str(tmp_path), '*', 'lsp_vis', '*_attention.png'))
