"""Toy GCN-FSOD before / after fresh draws and K-shot pairs (issue 12).

    python tools/analysis_tools/fsod_draws_benchmark.py \
        [--variants before after] [--base-shots 1 10] [--seeds 0 1 2] \
        [--work-dir work_dirs/fsod_draws_benchmark] [--base-iters N] [--ft-iters N]

Per variant and seed, the toy pipeline (base training, 10-shot fine-tuning)
is trained with ``tools/train.py`` and the fine-tuned checkpoint tested
with ``tools/test.py`` under both evaluation protocols:

* ``12-way``: every class tested, detections of all classes merged and
  capped at 100 per image (TFA's protocol, the configs' default);
* ``novel-only``: the novel classes alone (the paper's "20-way" on COCO).

Variants:

* ``before``: the pairs of before issue 12: mmengine's ``InfiniteSampler``
  (every pass repeats the draws of pass 0) and 1-shot pairs at base
  training and fine-tuning;
* ``after``: ``PassInfiniteSampler`` (fresh draws every pass), K-shot pairs
  (base training: the config's K, fine-tuning: K of the K-shot files);
* ``after-base-k<K>`` for each ``--base-shots`` K: ``after`` with K-shot
  base training pairs (the comparison of 1 against K behind the
  base-training default).

Each run's seed sets ``randomness.seed`` and the pair seed of both stages.
At the end the table prints novel and base AP50 and AR@100, mean ± std
(population std) over the seeds, per variant and protocol, and the base
model's own validation at the end of base training (``base-training``: the
base classes with the config's seeded templates, before any fine-tuning); ``--out``
writes every figure as json. A finished run (its metrics json present) is
not run again, nor a finished training stage (its final checkpoint
present), so the command can be resumed.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _toy_runs import (METRIC, REPO, last_checkpoint, mean_std, run,  # noqa: E402,F401
                       schedule, test_metrics)

TOY = osp.join(REPO, 'configs', 'gcn_fsod', 'toy')
GROUPS = ('novel', 'base')
FIGURES = ('mAP_50', 'AR@100')
# the base model's validation (base classes only), then the fine-tuned
# model under both protocols
PROTOCOLS = ('base-training', '12-way', 'novel-only')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--variants', nargs='*', default=['before', 'after'],
                        choices=['before', 'after'],
                        help='none: only the --base-shots variants')
    parser.add_argument('--base-shots', nargs='*', type=int, default=[],
                        help='also run "after" with these K at base training')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--base-config',
                        default=osp.join(TOY, 'gcn-fsod_r18_c4_toy_base-training.py'))
    parser.add_argument('--ft-config',
                        default=osp.join(TOY, 'gcn-fsod_r18_c4_toy_10shot-fine-tuning.py'))
    parser.add_argument('--novel-test-config', default=osp.join(
        TOY, 'gcn-fsod_r18_c4_toy_10shot-fine-tuning_novel-test.py'),
        help='the fine-tuning config tested on the novel classes only')
    parser.add_argument('--base-iters', type=int, help='override the base schedule')
    parser.add_argument('--ft-iters', type=int, help='override the fine-tuning schedule')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'fsod_draws_benchmark'))
    parser.add_argument('--out', help='json of every figure')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value options given to every train and test run')
    return parser.parse_args(argv)


def variants(args) -> Dict[str, Dict[str, List[str]]]:
    """name -> options of the base-training and fine-tuning runs."""
    out = {}
    if 'before' in args.variants:
        out['before'] = dict(
            base=['train_dataloader.sampler.type=InfiniteSampler',
                  'train_dataloader.dataset.num_support_shots=1'],
            ft=['train_dataloader.sampler.type=InfiniteSampler',
                'train_dataloader.dataset.num_support_shots=1'])
    if 'after' in args.variants:
        out['after'] = dict(base=[], ft=[])
    for k in args.base_shots:
        out[f'after-base-k{k}'] = dict(
            base=[f'train_dataloader.dataset.num_support_shots={k}'], ft=[])
    return out


def with_base_training(metrics: dict, root: str) -> dict:
    """Adds ``base-training``: the base model's own validation at its last
    iteration (base classes, the base-training config's templates), read
    from the run's ``base.log``."""
    log = osp.join(root, 'base.log')
    if 'base-training' not in metrics and osp.isfile(log):
        with open(log) as f:
            metrics['base-training'] = test_metrics(f.read(), log)
    return metrics


def train_and_test(args, name: str, opts: dict, seed: int) -> dict:
    """Metrics of one variant and seed: ``{protocol: {key: value}}``."""
    root = osp.abspath(osp.join(args.work_dir, name, f'seed{seed}'))
    done = osp.join(root, 'metrics.json')
    if osp.isfile(done):
        with open(done) as f:
            return with_base_training(json.load(f), root)
    os.makedirs(root, exist_ok=True)
    py, common = sys.executable, list(args.cfg_options)
    seeds = [f'randomness.seed={seed}', f'train_dataloader.dataset.seed={seed}']
    base_dir, ft_dir = osp.join(root, 'base'), osp.join(root, 'fine-tuning')
    # a stage whose work dir has its final checkpoint is not trained again
    # (mmengine writes last_checkpoint with the checkpoint, here only at the
    # last iteration)
    if not osp.isfile(osp.join(base_dir, 'last_checkpoint')):
        run([py, 'tools/train.py', args.base_config, '--work-dir', base_dir,
             '--cfg-options'] + common + seeds + schedule(args.base_iters) + opts['base'],
            osp.join(root, 'base.log'))
    if not osp.isfile(osp.join(ft_dir, 'last_checkpoint')):
        run([py, 'tools/train.py', args.ft_config, '--work-dir', ft_dir, '--cfg-options']
            + common + seeds + schedule(args.ft_iters) + opts['ft']
            + [f'load_from={last_checkpoint(base_dir)}'], osp.join(root, 'fine-tuning.log'))
    ckpt = last_checkpoint(ft_dir)
    metrics = with_base_training({}, root)
    for protocol, config in (('12-way', args.ft_config),
                             ('novel-only', args.novel_test_config)):
        out, _ = run([py, 'tools/test.py', config, ckpt, '--work-dir',
                      osp.join(root, f'test_{protocol}')]
                     + (['--cfg-options'] + common if common else []),
                     osp.join(root, f'test_{protocol}.log'))
        metrics[protocol] = test_metrics(out, ckpt)
    with open(done, 'w') as f:
        json.dump(metrics, f, indent=1)
    return metrics


def table(results: Dict[str, List[dict]]) -> str:
    """Rows variant x protocol; columns group x figure, mean ± std."""
    head = ['variant', 'protocol', 'seeds'] + [
        f'{g} {"AP50" if m == "mAP_50" else m}' for g in GROUPS for m in FIGURES]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, runs in results.items():
        for protocol in PROTOCOLS:
            if not any(protocol in r for r in runs):
                continue
            cells = [name, protocol, str(len(runs))]
            for g in GROUPS:
                for m in FIGURES:
                    cells.append(mean_std([r.get(protocol, {}).get(f'coco/{g}/bbox_{m}')
                                           for r in runs]))
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> str:
    args = parse_args(argv)
    results = {}
    for name, opts in variants(args).items():
        results[name] = [train_and_test(args, name, opts, s) for s in args.seeds]
    text = table(results)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(seeds=args.seeds, results=results), f, indent=1)
    return text


if __name__ == '__main__':
    main()
