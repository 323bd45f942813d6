"""ToyClutterDataset (mmpretrain scope), the classification configs, and
tools/train.py + tools/test.py on the tiny toy clutter config."""
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import REPO, run_tool
from mmfsod.utils.toy_clutter import (TOY_CLUTTER_CLASSES, draw_clutter_image,
                                      generate_toy_clutter, make_spec)

TINY_CLS_CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'toy_cls_tiny.py')
# what toy_cls_tiny.py asks for
TINY_CLUTTER = dict(num_train=12, num_val=6, num_classes=6, img_size=96,
                    min_scale=0.2, max_scale=0.4, seed=0)


@pytest.fixture(scope='module')
def tiny_clutter_root(tmp_path_factory):
    """The tiny toy clutter set toy_cls_tiny.py asks for, and
    MMFSOD_TEST_CLUTTER_ROOT pointing at it."""
    root = str(tmp_path_factory.mktemp('clutter') / 'toy_clutter') + '/'
    generate_toy_clutter(root, **TINY_CLUTTER)
    old = os.environ.get('MMFSOD_TEST_CLUTTER_ROOT')
    os.environ['MMFSOD_TEST_CLUTTER_ROOT'] = root
    yield root
    if old is None:
        os.environ.pop('MMFSOD_TEST_CLUTTER_ROOT', None)
    else:
        os.environ['MMFSOD_TEST_CLUTTER_ROOT'] = old


def _build(cfg):
    import mmfsod.classification  # noqa: F401  (registers ToyClutterDataset)
    from mmpretrain.registry import DATASETS
    return DATASETS.build(cfg)


def test_dataset_from_config_has_correct_labels(tiny_clutter_root):
    cfg = Config.fromfile(TINY_CLS_CONFIG)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.train_dataloader.dataset.data_root == tiny_clutter_root
    spec = make_spec(**TINY_CLUTTER)
    for split, key in (('train', 'train_dataloader'), ('val', 'val_dataloader')):
        ds = _build(cfg[key].dataset)
        assert type(ds).__name__ == 'ToyClutterDataset' and ds.split == split
        assert ds.metainfo['classes'] == TOY_CLUTTER_CLASSES
        assert len(ds) == TINY_CLUTTER[f'num_{split}']
        for idx in range(len(ds)):
            info = ds.get_data_info(idx)
            assert info['gt_label'] == draw_clutter_image(spec, split, idx)[1]['label']
            assert info['img_path'] == osp.join(
                tiny_clutter_root, split, TOY_CLUTTER_CLASSES[info['gt_label']],
                f'{idx:06d}.jpg')
        # through the pipeline: BGR image of the set's size, the label packed
        item = ds[1]
        assert tuple(item['inputs'].shape) == (3, 96, 96)
        assert int(item['data_samples'].gt_label) == 1


def test_dataset_generates_on_first_use_and_reads_without_generate(tmp_path):
    gen = dict(num_train=6, num_val=6, num_classes=3, img_size=64, min_scale=0.2,
               seed=1)
    root = str(tmp_path / 'g')
    ds = _build(dict(type='ToyClutterDataset', data_root=root, split='val',
                     generate=gen))
    assert ds.metainfo['classes'] == TOY_CLUTTER_CLASSES[:3]
    assert [ds.get_data_info(i)['gt_label'] for i in range(6)] == [0, 1, 2] * 2
    # an existing set is read as it is: the classes come from its spec
    ds2 = _build(dict(type='ToyClutterDataset', data_root=root, split='train'))
    assert ds2.metainfo['classes'] == TOY_CLUTTER_CLASSES[:3] and len(ds2) == 6
    # the folder scan (no list) gives the same labels
    ds3 = _build(dict(type='ToyClutterDataset', data_root=root, split='train',
                      ann_file=''))
    assert ([ds3.get_data_info(i)['gt_label'] for i in range(6)]
            == sorted(ds2.get_data_info(i)['gt_label'] for i in range(6)))
    # asking for other arguments on the same root is an error naming both
    with pytest.raises(ValueError, match="was generated with .*'seed': 1"):
        _build(dict(type='ToyClutterDataset', data_root=root,
                    generate=dict(gen, seed=2)))


def test_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match='split must be one of'):
        _build(dict(type='ToyClutterDataset', data_root=str(tmp_path), split='test'))
    with pytest.raises(ValueError, match='`generate` needs `data_root`'):
        _build(dict(type='ToyClutterDataset', generate=dict(num_train=6)))
    with pytest.raises(ValueError, match='num_train must be >= num_classes'):
        _build(dict(type='ToyClutterDataset', data_root=str(tmp_path / 'x'),
                    generate=dict(num_train=2)))
    with pytest.raises(FileNotFoundError, match='generate_toy_clutter.py'):
        _build(dict(type='ToyClutterDataset', data_root=str(tmp_path / 'missing')))


def test_base_configs():
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets',
                                   'toy_clutter_cls.py'))
    assert cfg.train_dataloader.dataset.generate == cfg.clutter_generate
    assert cfg.data_preprocessor.num_classes == cfg.clutter_generate.num_classes == 6
    assert cfg.train_dataloader.batch_size == 32 and cfg.val_evaluator.topk == (1, 5)
    runtime = Config.fromfile(osp.join(REPO, 'configs', '_base_',
                                       'default_runtime_cls.py'))
    assert runtime.default_scope == 'mmpretrain'
    assert runtime.custom_imports.imports == ['mmfsod.classification']
    assert runtime.default_hooks.visualization.type == 'VisualizationHook'
    assert runtime.visualizer.type == 'UniversalVisualizer'
    assert runtime.env_cfg.dist_cfg.backend == 'nccl' and runtime.randomness.seed == 0


def test_train_one_epoch_then_test(tiny_clutter_root, tmp_path):
    proc = run_tool(['tools/train.py', TINY_CLS_CONFIG, '--work-dir', str(tmp_path)])
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:]
    losses = [float(v) for v in
              re.findall(r'Epoch\(train\)\s+\[1\]\[\d/3\].*? loss: ([\d.]+)', out)]
    assert len(losses) == 3 and all(v > 0 for v in losses), out[-3000:]
    ckpt = tmp_path / 'epoch_1.pth'
    assert ckpt.is_file()
    assert re.search(r'Epoch\(val\) \[1\]\[2/2\]\s+accuracy/top1: [\d.]+\s+'
                     r'accuracy/top5: [\d.]+', out), out[-3000:]

    proc = run_tool(['tools/test.py', TINY_CLS_CONFIG, str(ckpt), '--work-dir',
                     str(tmp_path / 'test'), '--out', str(tmp_path / 'preds.pkl')])
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:]
    match = re.search(r'Epoch\(test\) \[2/2\]\s+accuracy/top1: ([\d.]+)', out)
    assert match and 0 <= float(match.group(1)) <= 100, out[-3000:]
    import pickle
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == TINY_CLUTTER['num_val']
    assert [int(p['gt_label']) for p in preds] == [i % 6 for i in range(6)]
