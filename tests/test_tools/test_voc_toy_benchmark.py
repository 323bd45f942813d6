"""tools/analysis_tools/voc_toy_benchmark.py: its methods' configs, the
per-seed options, the VOC metric's figures read from a test output and the
mean ± std table (the pipeline it runs is tested through the tools in
test_voc_toy_tools.py)."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

from conftest import REPO


def load():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'voc_toy_benchmark.py')
    spec = importlib.util.spec_from_file_location('voc_toy_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_methods_configs_and_seed_keys():
    from mmengine.config import Config
    bench = load()
    assert list(bench.METHODS) == ['gcn-fsod', 'tfa-cos']
    for name, method in bench.METHODS.items():
        assert osp.isfile(method['base'])
        cfg = Config.fromfile(method['ft'])
        assert cfg.test_evaluator.type == 'FewShotVOCMetric'
        for key in bench.SEED_KEYS + ['train_dataloader.dataset.dataset.few_shot_ann.shot']:
            node = cfg  # a typo would add a new key silently
            for part in key.split('.'):
                assert part in node, (name, key)
                node = node[part]


def test_figures_and_table():
    bench = load()
    out = ('... pascal_voc/novel/bbox_mAP_50: 0.2500  pascal_voc/base/bbox_mAP_50: 0.9000  '
           'pascal_voc/all/bbox_mAP_50: 0.7375  data_time: 0.01')
    assert bench.test_metrics(out, 'x') == dict(novel=0.25, base=0.9, all=0.7375)
    with pytest.raises(RuntimeError, match='of every group'):
        bench.test_metrics('pascal_voc/base/bbox_mAP_50: 0.9', 'ckpt.pth')
    runs = [dict(metrics=dict(novel=a, base=0.5, all=a + 0.1), train_s=60.0 * a * 10,
                 test_s=3.0) for a in (0.1, 0.2, 0.3)]
    text = bench.table({'gcn-fsod': dict(base=dict(train_s=600.0), runs=runs)}).splitlines()
    assert text[0] == ('| method | seeds | novel AP50 | base AP50 | all AP50 | '
                       'base training (min) | fine-tuning (min) | test (s) |')
    m, s = np.mean([0.1, 0.2, 0.3]), np.std([0.1, 0.2, 0.3])
    assert text[2] == (f'| gcn-fsod | 3 | {m:.3f} ± {s:.3f} | 0.500 ± 0.000 | '
                       f'{m + 0.1:.3f} ± {s:.3f} | 10.0 | 2.0 ± 0.8 | 3.0 ± 0.0 |')
    with pytest.raises(SystemExit):
        bench.parse_args(['--shot', '0'])
