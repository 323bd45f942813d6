"""The toy AnchorNet + LSP pipeline over several training seeds: mean ± std.

    python tools/analysis_tools/toy_patch_seeds.py [--seeds 0 1 2] \\
        [--work-root work_dirs/toy_patch_seeds] [--num-images 120] \\
        [--max-top1-drop 1] [--threads N] [--skip-existing]

For every seed ``S`` (``randomness.seed=S`` of every training run), under
``WORK_ROOT/seed<S>/``, the steps of ``make demo-anchornet``:

1. AnchorNet on the toy clutter set;
2. its LSP patches of the training images (the fine-tuning setting);
3. the full-image classifier;
4. the classifier fine-tuned on the patches;
5. early-exit thresholds calibrated on the held-out split
   (``calibrate_early_exit.py --max-top1-drop``), never the test split;
6. ``benchmark_patch_pipeline.py`` on the first ``--num-images`` validation
   images: all patches, early exit (calibrated), Table 4 localize and rescale
   (the classifier before patch fine-tuning, as the paper's Table 4), full
   image.

Per-seed configs that point at the seed's checkpoints are written under
``seed<S>/configs/``. The last table gives, per row, the mean ± std over the
seeds of patches per image, AnchorNet / classifier / total GMACs, CPU ms
per image and top-1; it is also written as ``summary.json`` and
``summary.md``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOY = 'configs/anchornet/toy'
DOWN = f'{TOY}/downstream'
ROWS = [  # (row name, config key, checkpoint key)
    ('all patches', 'all_patches', 'ft'),
    ('early exit (calibrated)', 'early_exit', 'ft'),
    ('Table 4 localize, 1 patch', 'table4_localize', 'full'),
    ('Table 4 rescale', 'table4_rescale', 'full'),
    ('full image', 'full', 'full'),
]
COLUMNS = [('patches', 'patches', '{:.2f}'), ('AnchorNet GMACs', 'anchornet_gmacs', '{:.4f}'),
           ('classifier GMACs', 'classifier_gmacs', '{:.4f}'),
           ('total GMACs', 'total_gmacs', '{:.4f}'), ('CPU ms', 'total_ms', '{:.2f}'),
           ('top-1 %', 'top1', '{:.1f}')]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-root', default='work_dirs/toy_patch_seeds')
    parser.add_argument('--num-images', type=int, default=120)
    parser.add_argument('--max-top1-drop', type=float, default=1.0)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads of the benchmark (default torch default)')
    parser.add_argument('--skip-existing', action='store_true',
                        help='keep the checkpoints a seed already has')
    return parser.parse_args(argv)


def run(cmd, log):
    """Run a repository command; its output goes to ``log`` and failures stop
    the script with the log's tail."""
    print('  $ ' + ' '.join(cmd), flush=True)
    start = time.time()
    with open(log, 'a') as f:
        proc = subprocess.run([sys.executable] + cmd, cwd=REPO, stdout=f,
                              stderr=subprocess.STDOUT)
    if proc.returncode:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(cmd)}\n{tail}')
    print(f'    {time.time() - start:.0f} s', flush=True)


def write_config(path, base, body):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(REPO, base)!r}]\n{body}')
    return path


def one_seed(seed, args):
    root = osp.abspath(osp.join(args.work_root, f'seed{seed}'))
    os.makedirs(root, exist_ok=True)
    log = osp.join(root, 'steps.log')
    seed_opt = ['--cfg-options', f'randomness.seed={seed}']
    anchor = osp.join(root, 'anchornet', 'epoch_20.pth')
    full = osp.join(root, 'full', 'epoch_12.pth')
    ft = osp.join(root, 'ft', 'epoch_6.pth')
    ckpts = dict(ft=ft, full=full)
    loc = f'model = dict(localizer_checkpoint={anchor!r})\n'
    cfgs = {key: write_config(osp.join(root, 'configs', f'{key}.py'), base, loc)
            for key, base in [
                ('lsp', f'{DOWN}/resnet18-w16_anchornet-lsp_toy-clutter.py'),
                ('all_patches', f'{DOWN}/resnet18-w16_anchornet-lsp-all-patches_toy-clutter.py'),
                ('table4_localize',
                 f'{DOWN}/resnet18-w16_anchornet-lsp-table4-localize_toy-clutter.py'),
                ('table4_rescale',
                 f'{DOWN}/resnet18-w16_anchornet-lsp-table4-rescale_toy-clutter.py')]}
    cfgs['full'] = osp.join(REPO, f'{DOWN}/resnet18-w16_toy-clutter_full.py')
    records = osp.join(root, 'lsp-train', '*', 'lsp_patches_downstream.jsonl')
    cfgs['ft'] = write_config(
        osp.join(root, 'configs', 'ft.py'),
        f'{DOWN}/resnet18-w16_anchornet-lsp-ft_toy-clutter.py',
        f'model = dict(localizer_checkpoint={anchor!r}, classifier=dict(\n'
        f'    init_cfg=dict(checkpoint={full!r})))\n'
        f'train_dataloader = dict(dataset=dict(ann_file={records!r}))\n')

    def need(path):
        return not (args.skip_existing and osp.isfile(path))

    print(f'== seed {seed} -> {root}', flush=True)
    if need(anchor):
        run(['tools/train.py', f'{TOY}/anchornet_toy-clutter.py', '--work-dir',
             osp.join(root, 'anchornet')] + seed_opt, log)
    if need(glob.glob(records)[0] if glob.glob(records) else records):
        run(['tools/test.py', f'{TOY}/anchornet_toy-clutter_lsp-downstream.py', anchor,
             '--work-dir', osp.join(root, 'lsp-train'), '--cfg-options',
             'test_dataloader.dataset.split=train'], log)
    if need(full):
        run(['tools/train.py', cfgs['full'], '--work-dir', osp.join(root, 'full')]
            + seed_opt, log)
    if need(ft):
        run(['tools/train.py', cfgs['ft'], '--work-dir', osp.join(root, 'ft')] + seed_opt,
            log)
    calib_dir = osp.join(root, 'early-exit')
    run(['tools/analysis_tools/calibrate_early_exit.py', cfgs['lsp'], ft,
         '--max-top1-drop', str(args.max_top1_drop), '--out-dir', calib_dir,
         '--full', cfgs['full'], full, '--rescale', cfgs['table4_rescale'], full], log)
    cfgs['early_exit'] = osp.join(calib_dir, 'early_exit_cfg.py')
    table = osp.join(root, 'benchmark.json')
    bench = ['tools/analysis_tools/benchmark_patch_pipeline.py']
    for _, cfg_key, ckpt_key in ROWS:
        bench += [cfgs[cfg_key], ckpts[ckpt_key]]
    bench += ['--num-images', str(args.num_images), '--out', table]
    if args.threads:
        bench += ['--threads', str(args.threads)]
    run(bench, log)
    with open(table) as f:
        rows = json.load(f)['rows']
    png = osp.join(calib_dir, 'early_exit_sweep.png')
    return dict(zip([r[0] for r in ROWS], rows)), png


def summarise(per_seed):
    lines = ['| row | ' + ' | '.join(c[0] for c in COLUMNS) + ' |',
             '|---|' + '---|' * len(COLUMNS)]
    summary = {}
    for name, _, _ in ROWS:
        cells, stats = [], {}
        for title, key, fmt in COLUMNS:
            values = [rows[name][key] for rows in per_seed]
            mean = statistics.fmean(values)
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            stats[key] = dict(mean=mean, std=std, values=values)
            cells.append(f'{fmt.format(mean)} ± {fmt.format(std)}')
        summary[name] = stats
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return summary, '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    per_seed, plots = [], []
    for seed in args.seeds:
        rows, png = one_seed(seed, args)
        per_seed.append(rows)
        plots.append(png)
    summary, table = summarise(per_seed)
    os.makedirs(args.work_root, exist_ok=True)
    with open(osp.join(args.work_root, 'summary.json'), 'w') as f:
        json.dump(dict(seeds=args.seeds, num_images=args.num_images, rows=summary,
                       plots=plots), f, indent=1)
    with open(osp.join(args.work_root, 'summary.md'), 'w') as f:
        f.write(table + '\n')
    print(f'\nseeds {args.seeds}, {args.num_images} validation images, batch 1, CPU; '
          'mean ± std over the seeds (calibration on the held-out split)')
    print(table)
    print('plots: ' + ', '.join(plots))


if __name__ == '__main__':
    main()
