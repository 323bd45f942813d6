"""TFA w/cos vs GCN-FSOD vs GCN-FSOD with the global-kernel RPN on the toy
benchmark (issue 14): 10 shots, the same 9 base / 3 novel split, K-shot
seeds 0-2.

    python tools/analysis_tools/fsod_baselines_benchmark.py \
        [--methods tfa-cos gcn-fsod gcn-fsod-global-kernel] [--seeds 0 1 2] \
        [--work-dir work_dirs/fsod_baselines_benchmark] \
        [--base-checkpoint gcn-fsod=work_dirs/gcn-fsod_r18_c4_toy_base-training/iter_1000.pth] \
        [--base-iters N] [--ft-iters N] [--out figures.json]

TFA's protocol, for every method: one base training (the config's seed),
then per seed a 10-shot fine-tuning on that seed's K-shot files (the seed
also sets ``randomness.seed`` and, for GCN-FSOD, the pair seed) and a
12-way test (every class, detections capped at 100 per image). TFA's
fine-tuning starts from its base model after ``ckpt_surgery.py randinit``.
``--base-checkpoint METHOD=PATH`` uses a base model trained before (e.g.
``make demo``'s, trained by the same config) instead of training one.

The table gives novel and base AP, AP50 and AR@100 as mean ± std
(population std) over the seeds, the base-training wall time (once per
method), and the mean fine-tuning and test wall times per seed. All runs go
one after another on this machine with torch's default threads; a finished
run (its json present) is not run again, so the command can be resumed.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import _toy_runs  # noqa: E402
from _toy_runs import REPO, mean_std, save_json, test_metrics  # noqa: E402

GCN = osp.join(REPO, 'configs', 'gcn_fsod', 'toy')
TFA = osp.join(REPO, 'configs', 'tfa', 'toy')
METHODS = {
    'tfa-cos': dict(
        base=osp.join(TFA, 'tfa_r18_fpn_toy_base-training.py'),
        ft=osp.join(TFA, 'tfa-cos_r18_fpn_toy_10shot-fine-tuning.py'),
        surgery='randinit',
        seed_keys=['train_dataloader.dataset.dataset.few_shot_ann.seed',
                   'train_dataloader.dataset.seed']),
    'gcn-fsod': dict(
        base=osp.join(GCN, 'gcn-fsod_r18_c4_toy_base-training.py'),
        ft=osp.join(GCN, 'gcn-fsod_r18_c4_toy_10shot-fine-tuning.py'),
        surgery=None,
        seed_keys=['train_dataloader.dataset.dataset.few_shot_ann.seed',
                   'train_dataloader.dataset.seed']),
    'gcn-fsod-global-kernel': dict(
        base=osp.join(GCN, 'gcn-fsod_r18_c4_toy_global-kernel_base-training.py'),
        ft=osp.join(GCN, 'gcn-fsod_r18_c4_toy_global-kernel_10shot-fine-tuning.py'),
        surgery=None,
        seed_keys=['train_dataloader.dataset.dataset.few_shot_ann.seed',
                   'train_dataloader.dataset.seed']),
}
GROUPS = ('novel', 'base')
FIGURES = (('mAP', 'AP'), ('mAP_50', 'AP50'), ('AR@100', 'AR@100'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='K-shot file seeds (the toy set has 0, 1 and 2)')
    parser.add_argument('--base-checkpoint', nargs='*', default=[], metavar='METHOD=PATH',
                        help='a base model trained before by the method\'s base config')
    parser.add_argument('--base-iters', type=int, help='override the base schedule')
    parser.add_argument('--ft-iters', type=int, help='override the fine-tuning schedule')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fsod_baselines_benchmark'))
    parser.add_argument('--out', help='json of every figure')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value options given to every train and test run')
    args = parser.parse_args(argv)
    given = {}
    for item in args.base_checkpoint:
        name, sep, path = item.partition('=')
        if not sep or name not in METHODS:
            parser.error(f'--base-checkpoint {item!r}: expected METHOD=PATH with METHOD '
                         f'one of {list(METHODS)}')
        if not osp.isfile(path):
            parser.error(f'--base-checkpoint {item!r}: {path} does not exist')
        given[name] = osp.abspath(path)
    args.base_checkpoint = given
    return args


def base_model(args, name: str) -> dict:
    """``{'checkpoint', 'train_s'}`` of the method's base model (after
    surgery for TFA); ``train_s`` None for a given ``--base-checkpoint``."""
    return _toy_runs.base_model(osp.abspath(osp.join(args.work_dir, name)), METHODS[name],
                                args.cfg_options, args.base_iters,
                                args.base_checkpoint.get(name))


def fine_tune_and_test(args, name: str, base: dict, seed: int) -> dict:
    """``{'metrics', 'train_s', 'test_s'}`` of one method and seed (the seed
    options at the test too keep the config the same as at training)."""
    method = METHODS[name]
    root = osp.abspath(osp.join(args.work_dir, name, f'seed{seed}'))
    options = (list(args.cfg_options) + [f'randomness.seed={seed}']
               + [f'{k}={seed}' for k in method['seed_keys']])
    return _toy_runs.fine_tune_and_test(root, method, base, options, args.ft_iters,
                                        test_metrics)


def table(results: Dict[str, dict]) -> str:
    """Rows: methods; columns: group x figure (mean ± std), then times."""
    head = ['method', 'seeds'] + [f'{g} {label}' for g in GROUPS for _, label in FIGURES] + [
        'base training (min)', 'fine-tuning (min)', 'test (s)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, res in results.items():
        runs = res['runs']
        cells = [name, str(len(runs))]
        for g in GROUPS:
            for key, _ in FIGURES:
                cells.append(mean_std([r['metrics'].get(f'coco/{g}/bbox_{key}') for r in runs]))
        base_s = res['base']['train_s']
        cells.append('–' if base_s is None else f'{base_s / 60:.1f}')
        cells.append(mean_std([r['train_s'] / 60 for r in runs], 1))
        cells.append(mean_std([r['test_s'] for r in runs], 1))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: List[str] = None) -> str:
    args = parse_args(argv)
    import torch
    print(f'torch threads per run: {torch.get_num_threads()} '
          f'(OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")})', flush=True)
    results = {}
    for name in args.methods:
        base = base_model(args, name)
        runs = [fine_tune_and_test(args, name, base, s) for s in args.seeds]
        results[name] = dict(base=base, runs=runs)
    text = table(results)
    print(text)
    if args.out:
        save_json(args.out, dict(seeds=args.seeds, results=results))
    return text


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    main()
