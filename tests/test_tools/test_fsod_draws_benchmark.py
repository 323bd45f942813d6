"""tools/analysis_tools/fsod_draws_benchmark.py: the variants' options and
the mean ± std table (the trainings themselves were checked by hand on the
tiny configs with 2 iterations; see the script's docstring)."""
import importlib.util
import os
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
    only_k = bench.variants(bench.parse_args(['--variants', '--base-shots', '1']))
    assert list(only_k) == ['after-base-k1']
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
    # the base model's validation: a row of its own where the runs have it
    runs[0]['base-training'] = {'coco/base/bbox_mAP_50': 0.6, 'coco/base/bbox_AR@100': 0.3}
    text = bench.table({'after': runs}).splitlines()
    assert text[2] == '| after | base-training | 3 | – | – | 0.600 ± 0.000 | 0.300 ± 0.000 |'
    assert text[3].startswith('| after | 12-way | 3 |')
    line = 'coco/novel/bbox_mAP_50: 0.2970  coco/novel/bbox_AR@100: 0.1840'
    expected = {'coco/novel/bbox_mAP_50': '0.2970', 'coco/novel/bbox_AR@100': '0.1840'}
    assert dict(bench.METRIC.findall(line)) == expected


def test_finished_stages_not_trained_again(tmp_path, monkeypatch):
    """Resuming: a stage whose work dir holds its final checkpoint is skipped;
    the other stages and both protocols' tests run."""
    bench = load()
    calls = []

    def fake_run(cmd, log):
        calls.append((cmd[1], cmd[2]))
        if cmd[1] == 'tools/train.py' and cmd[2] == args.base_config:
            raise AssertionError('the finished base training ran again')
        if cmd[1] == 'tools/train.py':
            work_dir = cmd[cmd.index('--work-dir') + 1]
            os.makedirs(work_dir, exist_ok=True)
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work_dir, 'iter_300.pth'))
            return '', 0.0
        return 'coco/novel/bbox_mAP_50: 0.2970  coco/novel/bbox_AR@100: 0.1840', 0.0

    monkeypatch.setattr(bench, 'run', fake_run)
    args = bench.parse_args(['--work-dir', str(tmp_path), '--seeds', '0'])
    base_dir = tmp_path / 'after' / 'seed0' / 'base'
    base_dir.mkdir(parents=True)
    (base_dir / 'last_checkpoint').write_text(str(base_dir / 'iter_1000.pth'))
    # the base run's log, with its validation line at the last iteration
    (base_dir.parent / 'base.log').write_text(
        'Iter(val) [30/30]  coco/base/bbox_mAP_50: 0.5040  coco/base/bbox_AR@100: 0.3700\n')
    metrics = bench.train_and_test(args, 'after', dict(base=[], ft=[]), 0)
    assert [c[0] for c in calls] == ['tools/train.py', 'tools/test.py', 'tools/test.py']
    assert calls[0][1] == args.ft_config
    assert metrics['novel-only'] == {'coco/novel/bbox_mAP_50': 0.297,
                                     'coco/novel/bbox_AR@100': 0.184}
    assert metrics['base-training'] == {'coco/base/bbox_mAP_50': 0.504,
                                        'coco/base/bbox_AR@100': 0.37}
    # finished: the metrics json is read back, nothing runs
    calls.clear()
    assert bench.train_and_test(args, 'after', dict(base=[], ft=[]), 0) == metrics
    assert calls == []
