"""Resume cost: the time from start to the first new training iteration when
resuming at iteration 0 and at iteration ``--iters`` (default 2,000).

    python tools/analysis_tools/resume_benchmark.py --threads 1
    python tools/analysis_tools/resume_benchmark.py --iters 2000 --replay-iters 2000

The config (default: the toy GCN-FSOD base training, 2-way 10-shot
query-support pairs of 21 images each, batch 2, 2 persistent dataloader
workers, ``IndexSkipIterBasedTrainLoop``) trains on a generated toy set of
``--images`` images. Training ``--iters`` iterations would take long on a
CPU, so the checkpoints are made, not trained: one training iteration is
saved, then copied with its iteration set to 0 and to ``--iters`` (the
weights do not matter for the timing; the random states are those of a real
checkpoint).

Each case runs ``--repeats`` times, each in a fresh process (same imports),
the cases taking turns, and the medians are printed: the seconds from
building the runner to the end of the first new iteration, of which
``setup`` (building the model and dataloader, loading the checkpoint, up to
``before_train``) and ``-> 1st batch`` (from ``before_train`` to the first
new batch: the skip of the trained batches, starting the workers, loading
the batch), and the index skip's own time. Rows:

* ``resume at 0``: no batch to skip;
* ``resume at N``: the loop skips ``N`` batches at the index level (no item
  loaded); the target is a time within 1.5x of ``resume at 0``;
* ``mmengine replay at K``: mmengine's ``IterBasedTrainLoop`` on the same
  checkpoint copied with its iteration set to ``K`` (``--replay-iters``,
  default 200), which loads the ``K`` trained batches again. Its cost per
  batch is the difference of its ``-> 1st batch`` and resume at 0's, over
  ``K``; its time at ``N`` is estimated from that (``--replay-iters N``
  measures it).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'gcn_fsod', 'toy',
                          'gcn-fsod_r18_c4_toy_base-training.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--iters', type=int, default=2000,
                        help='the iteration of the late resume')
    parser.add_argument('--replay-iters', type=int, default=200,
                        help="the iteration mmengine's replaying loop resumes at "
                             '(0: not measured)')
    parser.add_argument('--images', type=int, default=40,
                        help='training images of the generated toy set')
    parser.add_argument('--num-workers', type=int, default=None,
                        help="dataloader workers (default: the config's)")
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--work-dir', default=None,
                        help='where the toy set and checkpoints go (default: a temporary '
                             'folder)')
    parser.add_argument('--measure', nargs=3, metavar=('LOOP', 'CKPT', 'OUT'),
                        help=argparse.SUPPRESS)  # one timed resume, in its own process
    return parser.parse_args()


def build_cfg(args, work_dir: str, max_iters: int, loop: str = 'IndexSkipIterBasedTrainLoop'):
    """The config trained on the generated toy set, no validation, no
    checkpoint written while timing."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    data_root = osp.join(work_dir, 'toy_shapes') + '/'
    generate = dict(num_train=args.images, num_val=2, seed=0)
    inner = cfg.train_dataloader.dataset
    while 'dataset' in inner and 'data_root' not in inner:
        inner = inner.dataset
    inner.data_root, inner.generate = data_root, generate
    if args.num_workers is not None:
        cfg.train_dataloader.num_workers = args.num_workers
        cfg.train_dataloader.persistent_workers = args.num_workers > 0
    cfg.train_cfg = dict(type=loop, max_iters=max_iters, val_interval=max_iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=max_iters + 1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = osp.join(work_dir, 'runs')
    cfg.launcher = 'none'
    return cfg


def make_checkpoints(args, work_dir: str) -> dict:
    """Train one iteration, save it; copies at iteration 0, --iters and
    --replay-iters. Returns {iteration: path}."""
    import torch
    from mmengine.runner import Runner
    cfg = build_cfg(args, work_dir, max_iters=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=1)
    cfg.work_dir = osp.join(work_dir, 'first')
    Runner.from_cfg(cfg).train()
    ckpt = torch.load(osp.join(cfg.work_dir, 'iter_1.pth'), map_location='cpu',
                      weights_only=False)
    paths = {}
    for it in sorted({0, args.iters, args.replay_iters}):
        ckpt['meta']['iter'] = it
        paths[it] = osp.join(work_dir, f'iter_{it}.pth')
        torch.save(ckpt, paths[it])
    return paths


def measure(args) -> None:
    """One resume, timed (run in a process of its own)."""
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    loop, ckpt, out = args.measure
    torch.set_num_threads(args.threads)
    it = torch.load(ckpt, map_location='cpu', weights_only=False)['meta']['iter']
    cfg = build_cfg(args, osp.dirname(ckpt), max_iters=it + 1, loop=loop)
    cfg.work_dir = osp.join(osp.dirname(ckpt), 'runs', f'{loop}_{it}')
    cfg.resume, cfg.load_from = True, ckpt
    times = {}

    class Timer(Hook):
        def before_train(self, runner):
            times['before_train'] = time.perf_counter()

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            times.setdefault('first_batch', time.perf_counter())

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            times.setdefault('first_iter', time.perf_counter())
            times.setdefault('skip', getattr(runner.train_loop, 'skip_seconds', 0.0))

    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Timer(), 'LOWEST')
    runner.train()
    with open(out, 'w') as f:
        json.dump(dict(total=times['first_iter'] - start,
                       setup=times['before_train'] - start,
                       to_batch=times['first_batch'] - times['before_train'],
                       skip=times['skip']), f)


def run_once(args, loop: str, ckpt: str, out: str) -> dict:
    """One timed resume in a fresh process."""
    cmd = [sys.executable, __file__, '--config', args.config, '--images', str(args.images),
           '--threads', str(args.threads), '--measure', loop, ckpt, out]
    if args.num_workers is not None:
        cmd += ['--num-workers', str(args.num_workers)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f'resume_benchmark: the timed resume failed:\n{proc.stdout[-3000:]}'
                 f'\n{proc.stderr[-3000:]}')
    with open(out) as f:
        return json.load(f)


def run_cases(args, cases, work_dir: str) -> list:
    """Median figures of ``--repeats`` resumes per case, the cases taking
    turns (a change of the machine's load hits them alike)."""
    results = [[] for _ in cases]
    for r in range(args.repeats):
        for i, (name, loop, ckpt) in enumerate(cases):
            results[i].append(run_once(args, loop, ckpt, osp.join(work_dir, f'time_{i}_{r}.json')))
    return [(name, {k: statistics.median(x[k] for x in res) for k in res[0]})
            for (name, _, _), res in zip(cases, results)]


def main():
    args = parse_args()
    sys.path.insert(0, REPO)
    import mmfsod  # noqa: F401  (the loop, the hook)
    if args.measure:
        return measure(args)
    if args.iters < 1 or args.replay_iters < 0:
        sys.exit('resume_benchmark: --iters must be >= 1 and --replay-iters >= 0')
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = osp.abspath(args.work_dir or tmp)
        os.makedirs(work_dir, exist_ok=True)
        ckpts = make_checkpoints(args, work_dir)
        ours = 'IndexSkipIterBasedTrainLoop'
        cases = [('resume at 0', ours, ckpts[0]),
                 (f'resume at {args.iters} (index skip)', ours, ckpts[args.iters])]
        if args.replay_iters:
            cases.append((f'mmengine replay at {args.replay_iters}', 'IterBasedTrainLoop',
                          ckpts[args.replay_iters]))
        rows = run_cases(args, cases, work_dir)
    print(f'\n{osp.relpath(args.config, REPO)}: {args.images} toy images, '
          f'{args.threads} torch thread(s), workers: '
          f'{"config" if args.num_workers is None else args.num_workers}, '
          f'median of {args.repeats} fresh processes each')
    print(f'{"case":<34}{"start -> 1st new iter":>22}{"setup":>8}{"-> 1st batch":>14}'
          f'{"index skip":>12}  (s)')
    for name, t in rows:
        print(f'{name:<34}{t["total"]:>22.2f}{t["setup"]:>8.2f}{t["to_batch"]:>14.2f}'
              f'{t["skip"]:>12.2f}')
    base, late = rows[0][1]['total'], rows[1][1]['total']
    print(f'ratio resume at {args.iters} / resume at 0: {late / base:.2f} (target <= 1.5)')
    if args.replay_iters:
        per_batch = (rows[2][1]['to_batch'] - rows[0][1]['to_batch']) / args.replay_iters
        measured = args.replay_iters == args.iters
        late_replay = rows[2][1]['total'] if measured else base + per_batch * args.iters
        how = 'measured' if measured else f'estimated from the replay at {args.replay_iters}'
        print(f'mmengine replay: {per_batch * 1e3:.1f} ms per trained batch loaded again; '
              f'start -> 1st new iter at {args.iters}: {late_replay:.1f} s ({how})')


if __name__ == '__main__':
    main()
