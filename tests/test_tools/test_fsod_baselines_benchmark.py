"""tools/analysis_tools/fsod_baselines_benchmark.py: its methods' configs,
the per-seed options, the base-checkpoint option and the mean ± std table
(the pipeline it runs is tested through the tools in test_tfa.py and
test_gcn_fsod_pipeline.py)."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

from conftest import REPO


def load():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'fsod_baselines_benchmark.py')
    spec = importlib.util.spec_from_file_location('fsod_baselines_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_methods_configs_exist_and_seed_keys_are_config_keys():
    from mmengine.config import Config
    bench = load()
    assert list(bench.METHODS) == ['tfa-cos', 'gcn-fsod', 'gcn-fsod-global-kernel']
    for name, method in bench.METHODS.items():
        cfg = Config.fromfile(method['ft'])
        assert osp.isfile(method['base'])
        for key in method['seed_keys']:  # a typo would add a new key silently
            node = cfg
            for part in key.split('.'):
                assert part in node, (name, key)
                node = node[part]


def test_table_and_options(tmp_path):
    bench = load()
    with pytest.raises(SystemExit):
        bench.parse_args(['--base-checkpoint', 'tfa=x.pth'])
    ckpt = tmp_path / 'b.pth'
    ckpt.write_bytes(b'')
    args = bench.parse_args(['--base-checkpoint', f'gcn-fsod={ckpt}'])
    assert args.base_checkpoint == {'gcn-fsod': str(ckpt)}
    runs = [dict(metrics={'coco/novel/bbox_mAP': a, 'coco/novel/bbox_mAP_50': 2 * a,
                          'coco/base/bbox_AR@100': 0.5},
                 train_s=60.0 * a * 10, test_s=3.0) for a in (0.1, 0.2, 0.3)]
    text = bench.table({'tfa-cos': dict(base=dict(train_s=600.0), runs=runs),
                        'gcn-fsod': dict(base=dict(train_s=None), runs=runs[:1])}).splitlines()
    assert text[0] == ('| method | seeds | novel AP | novel AP50 | novel AR@100 | base AP | '
                       'base AP50 | base AR@100 | base training (min) | fine-tuning (min) '
                       '| test (s) |')
    m, s = np.mean([0.1, 0.2, 0.3]), np.std([0.1, 0.2, 0.3])
    assert text[2] == (f'| tfa-cos | 3 | {m:.3f} ± {s:.3f} | {2 * m:.3f} ± {2 * s:.3f} | – '
                       '| – | – | 0.500 ± 0.000 | 10.0 | 2.0 ± 0.8 | 3.0 ± 0.0 |')
    assert text[3].startswith('| gcn-fsod | 1 | 0.100 ± 0.000') and '| – | 1.0 ± 0.0 |' in text[3]
