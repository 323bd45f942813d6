"""GCN-FSOD and TFA w/cos on the toy shapes set in PASCAL VOC's layout
(issue 22): VOC07 11-point AP50 of the novel and base classes, mean ± std
over the K-shot seeds.

    python tools/analysis_tools/voc_toy_benchmark.py \
        [--methods gcn-fsod tfa-cos] [--seeds 0 1 2] [--shot 10] \
        [--base-iters N] [--ft-iters N] \
        [--work-dir work_dirs/voc_toy_benchmark] [--out figures.json]

The data: the toy set of the toy-VOC configs (``data/toy_voc/``: 300
training and 60 test images, the toy COCO benchmark's images, 9 base / 3
novel classes; written if absent) and TFA's VOC K-shot files of each seed
(``data/toy_voc/vocsplit/``, drawn by TFA's VOC sampler; seed 0 is drawn too,
the toy has no Kang et al. sample). TFA's protocol for both methods: one base
training, then per seed a K-shot fine-tuning on that seed's files (the seed
also sets ``randomness.seed`` and the dataset's draw seed) and a 12-way test
(every class; difficult boxes ignored). TFA fine-tunes from its base model
after ``ckpt_surgery.py randinit``. ``--base-iters`` / ``--ft-iters`` shorten
the configs' schedules (1,000 / 300 iterations; the lr milestones stay).

The table gives novel, base and all-class AP50 as mean ± std (population
std) over the seeds, the base-training wall time and the mean fine-tuning and
test wall times. A finished run (its json present) is not run again, so the
command can be resumed; the methods can run in two processes sharing
``--work-dir`` and a last call prints the table of both.
"""
import argparse
import os
import os.path as osp
import re
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import _toy_runs  # noqa: E402
from _toy_runs import REPO, mean_std, save_json  # noqa: E402

GCN = osp.join(REPO, 'configs', 'gcn_fsod', 'toy')
TFA = osp.join(REPO, 'configs', 'tfa', 'toy')
SEED_KEYS = ['train_dataloader.dataset.dataset.few_shot_ann.seed',
             'train_dataloader.dataset.seed']
METHODS = {
    'gcn-fsod': dict(
        base=osp.join(GCN, 'gcn-fsod_r18_c4_toy-voc_base-training.py'),
        ft=osp.join(GCN, 'gcn-fsod_r18_c4_toy-voc_10shot-fine-tuning.py'),
        surgery=None),
    'tfa-cos': dict(
        base=osp.join(TFA, 'tfa_r18_fpn_toy-voc_base-training.py'),
        ft=osp.join(TFA, 'tfa-cos_r18_fpn_toy-voc_10shot-fine-tuning.py'),
        surgery='randinit'),
}
GROUPS = ('novel', 'base', 'all')
# pascal_voc/<group>/bbox_mAP_50: value, as FewShotVOCMetric logs them
METRIC = re.compile(r'pascal_voc/(novel|base|all)/bbox_mAP_50: (-?[0-9.]+)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='K-shot file seeds (written if absent)')
    parser.add_argument('--shot', type=int, default=10, help='K of the fine-tuning')
    parser.add_argument('--base-iters', type=int, help='override the base schedule')
    parser.add_argument('--ft-iters', type=int, help='override the fine-tuning schedule')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'voc_toy_benchmark'))
    parser.add_argument('--out', help='json of every figure')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value options given to every train and test run')
    args = parser.parse_args(argv)
    if args.shot < 1:
        parser.error(f'--shot must be at least 1, got {args.shot}')
    return args


def prepare_data(seeds: List[int], shot: int) -> str:
    """Write the configs' toy VOC set and the K-shot files of ``seeds`` where
    absent; return the data root."""
    from mmengine.config import Config

    from mmfsod.detection.datasets import TOY_VOC_SPLIT, write_voc_few_shot_splits
    from mmfsod.detection.datasets import voc_split_file_name
    from mmfsod.detection.datasets.few_shot_split import seed_dir
    from mmfsod.utils.toy_voc import generate_toy_voc
    cfg = Config.fromfile(METHODS['gcn-fsod']['ft'])
    ds = cfg.train_dataloader.dataset.dataset
    root = osp.join(REPO, ds.data_root)
    generate_toy_voc(root, **ds.generate)
    out = osp.join(root, ds.few_shot_ann.root)
    classes = TOY_VOC_SPLIT['ALL_CLASSES']
    missing = [s for s in seeds if not all(
        osp.isfile(osp.join(seed_dir(out, s), voc_split_file_name(shot, c))) for c in classes)]
    if missing:
        write_voc_few_shot_splits([osp.join(root, 'VOC2007')], out, seeds=missing,
                                  shots=[shot], class_order=classes, sample_seed0=True)
    return root


def base_model(args, name: str) -> dict:
    """``{'checkpoint', 'train_s'}`` of the method's base model (after
    surgery for TFA)."""
    return _toy_runs.base_model(osp.abspath(osp.join(args.work_dir, name)), METHODS[name],
                                args.cfg_options, args.base_iters)


def test_metrics(out: str, what: str) -> Dict[str, float]:
    """The AP50 of each group in a tools/test.py output."""
    found = {g: float(v) for g, v in METRIC.findall(out)}
    if set(found) != set(GROUPS):
        raise RuntimeError(f'no pascal_voc/<group>/bbox_mAP_50 of every group in the test '
                           f'output of {what} (found {sorted(found)})')
    return found


def fine_tune_and_test(args, name: str, base: dict, seed: int) -> dict:
    """``{'metrics', 'train_s', 'test_s'}`` of one method and seed."""
    root = osp.abspath(osp.join(args.work_dir, name, f'{args.shot}shot_seed{seed}'))
    options = (list(args.cfg_options) + [f'randomness.seed={seed}']
               + [f'{k}={seed}' for k in SEED_KEYS]
               + [f'train_dataloader.dataset.dataset.few_shot_ann.shot={args.shot}'])
    return _toy_runs.fine_tune_and_test(root, METHODS[name], base, options, args.ft_iters,
                                        test_metrics)


def table(results: Dict[str, dict]) -> str:
    """Rows: methods; columns: AP50 per group (mean ± std), then times."""
    head = (['method', 'seeds'] + [f'{g} AP50' for g in GROUPS]
            + ['base training (min)', 'fine-tuning (min)', 'test (s)'])
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, res in results.items():
        runs = res['runs']
        cells = [name, str(len(runs))]
        cells += [mean_std([r['metrics'][g] for r in runs]) for g in GROUPS]
        cells.append(f'{res["base"]["train_s"] / 60:.1f}')
        cells.append(mean_std([r['train_s'] / 60 for r in runs], 1))
        cells.append(mean_std([r['test_s'] for r in runs], 1))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: List[str] = None) -> str:
    args = parse_args(argv)
    import torch
    print(f'torch threads per run: {torch.get_num_threads()} '
          f'(OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")})', flush=True)
    root = prepare_data(args.seeds, args.shot)
    print(f'toy VOC: {root} (K-shot files of seeds {args.seeds}, {args.shot} shots)',
          flush=True)
    results = {}
    for name in args.methods:
        base = base_model(args, name)
        runs = [fine_tune_and_test(args, name, base, s) for s in args.seeds]
        results[name] = dict(base=base, runs=runs)
    text = table(results)
    print(text)
    if args.out:
        save_json(args.out, dict(seeds=args.seeds, shot=args.shot,
                                 base_iters=args.base_iters, ft_iters=args.ft_iters,
                                 results=results))
    return text


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    main()
