"""tools/analysis_tools/fsod_draws_benchmark.py: the variants' options and
the mean ± std table (the trainings themselves were checked by hand on the
tiny configs with 2 iterations; see the script's docstring)."""
import importlib.util
import os.path as osp

import numpy as np

from conftest import REPO


def load():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'fsod_draws_benchmark.py')
    spec = importlib.util.spec_from_file_location('fsod_draws_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variants_and_table():
    bench = load()
    args = bench.parse_args(['--base-shots', '1', '10'])
    v = bench.variants(args)
    assert list(v) == ['before', 'after', 'after-base-k1', 'after-base-k10']
    assert 'train_dataloader.sampler.type=InfiniteSampler' in v['before']['base']
    assert 'train_dataloader.dataset.num_support_shots=1' in v['before']['ft']
    assert v['after'] == dict(base=[], ft=[])
    assert v['after-base-k10']['base'] == ['train_dataloader.dataset.num_support_shots=10']
    runs = [{'12-way': {'coco/novel/bbox_mAP_50': a, 'coco/base/bbox_mAP_50': 0.5,
                        'coco/novel/bbox_AR@100': 0.2, 'coco/base/bbox_AR@100': 0.4},
             'novel-only': {'coco/novel/bbox_mAP_50': a + 0.1,
                            'coco/novel/bbox_AR@100': 0.3}} for a in (0.1, 0.2, 0.4)]
    text = bench.table({'after': runs}).splitlines()
    assert text[0].startswith('| variant | protocol | seeds | novel AP50 | novel AR@100')
    mean, std = np.mean([0.1, 0.2, 0.4]), np.std([0.1, 0.2, 0.4])
    assert text[2] == (f'| after | 12-way | 3 | {mean:.3f} ± {std:.3f} | 0.200 ± 0.000 | '
                       '0.500 ± 0.000 | 0.400 ± 0.000 |')
    assert text[3].startswith(f'| after | novel-only | 3 | {mean + 0.1:.3f} ± {std:.3f}')
    assert text[3].endswith('| – | – |')
    line = 'coco/novel/bbox_mAP_50: 0.2970  coco/novel/bbox_AR@100: 0.1840'
    expected = {'coco/novel/bbox_mAP_50': '0.2970', 'coco/novel/bbox_AR@100': '0.1840'}
    assert dict(bench.METRIC.findall(line)) == expected
