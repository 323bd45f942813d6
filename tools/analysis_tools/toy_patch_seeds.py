"""The toy AnchorNet + LSP pipeline over several training seeds: mean ± std.

    python tools/analysis_tools/toy_patch_seeds.py [--seeds 0 1 2] \\
        [--work-root work_dirs/toy_patch_seeds] [--num-images 120] \\
        [--max-top1-drop 1] [--threads N] [--skip-existing] \\
        [--backends pytorch onnxruntime openvino]

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
   image; every row once per ``--backends`` engine (default: PyTorch and
   every installed engine of the ``deploy`` extra), the classifier exported
   to ONNX under ``seed<S>/onnx/``.

Per-seed configs that point at the seed's checkpoints are written under
``seed<S>/configs/``. The last table gives, per row, the mean ± std over the
seeds of patches per image, AnchorNet / classifier / total GMACs, CPU ms
per image in each backend and top-1 (PyTorch's; a line per engine says on
how many images its predictions equal PyTorch's); it is also written as
``summary.json`` and ``summary.md``.
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
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import _engine_rows as engine_rows  # noqa: E402

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
    parser.add_argument('--backends', nargs='+', default=None,
                        choices=('pytorch', ) + engine_rows.ENGINES,
                        help='engines of the benchmark rows (default: pytorch and '
                        'every installed one of ' + ', '.join(engine_rows.ENGINES) + ')')
    args = parser.parse_args(argv)
    if args.backends is None:
        args.backends = ['pytorch'] + [e for e in engine_rows.ENGINES
                                       if engine_rows.installed(e)]
    return args


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
    bench += ['--num-images', str(args.num_images), '--out', table,
              '--backends'] + args.backends + ['--onnx-dir', osp.join(root, 'onnx')]
    if args.threads:
        bench += ['--threads', str(args.threads)]
    run(bench, log)
    with open(table) as f:
        rows = json.load(f)['rows']
    png = osp.join(calib_dir, 'early_exit_sweep.png')
    return by_row(rows), png


def by_row(rows):
    """The benchmark's rows (ROWS' order, grouped by backend) as ``{row
    name: PyTorch's row}``, each with ``ms_<backend>`` (CPU ms per image)
    and ``same_<backend>`` (``[equal predictions, images]``) per backend."""
    groups = {}
    for row in rows:
        groups.setdefault(row.get('backend', 'pytorch'), []).append(row)
    if len(groups.get('pytorch', [])) != len(ROWS):
        raise SystemExit(f'the benchmark gave {len(groups.get("pytorch", []))} PyTorch '
                         f'rows, expected {len(ROWS)}')
    out = {}
    for i, (name, _, _) in enumerate(ROWS):
        row = dict(groups['pytorch'][i])
        for backend, group in groups.items():
            if len(group) == len(ROWS):
                row[f'ms_{backend}'] = group[i]['total_ms']
                row[f'same_{backend}'] = group[i].get('same_as_pytorch')
        out[name] = row
    return out


NAMES = dict(pytorch='PyTorch', onnxruntime='ONNX Runtime', openvino='OpenVINO')


def measured_backends(per_seed):
    """The backends every seed has every row of, PyTorch first."""
    return [b for b in ('pytorch', ) + engine_rows.ENGINES
            if all(f'ms_{b}' in row for rows in per_seed for row in rows.values())]


def columns_of(backends):
    """COLUMNS, with one CPU ms column per backend when there are several."""
    if backends in ([], ['pytorch']):
        return COLUMNS
    out = []
    for column in COLUMNS:
        if column[1] != 'total_ms':
            out.append(column)
            continue
        out += [(f'CPU ms {NAMES[b]}', f'ms_{b}', column[2]) for b in backends]
    return out


def summarise(per_seed):
    """The mean ± std table (markdown), its figures, and one line per engine:
    on how many images of all rows and seeds it predicts as PyTorch."""
    backends = measured_backends(per_seed)
    columns = columns_of(backends)
    lines = ['| row | ' + ' | '.join(c[0] for c in columns) + ' |',
             '|---|' + '---|' * len(columns)]
    summary = {}
    for name, _, _ in ROWS:
        cells, stats = [], {}
        for title, key, fmt in columns:
            values = [rows[name][key] for rows in per_seed]
            mean = statistics.fmean(values)
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            stats[key] = dict(mean=mean, std=std, values=values)
            cells.append(f'{fmt.format(mean)} ± {fmt.format(std)}')
        summary[name] = stats
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    notes = []
    for engine in backends[1:] if backends[:1] == ['pytorch'] else []:
        same = [rows[name][f'same_{engine}'] for rows in per_seed for name, _, _ in ROWS]
        same = [s for s in same if s]
        notes.append(f'{NAMES[engine]}: predictions equal PyTorch\'s on '
                     f'{sum(s[0] for s in same)} of {sum(s[1] for s in same)} images '
                     f'({len(ROWS)} rows x {len(per_seed)} '
                     f'seed{"s" if len(per_seed) > 1 else ""})')
    return summary, '\n'.join(lines), notes


def main(argv=None):
    args = parse_args(argv)
    per_seed, plots = [], []
    for seed in args.seeds:
        rows, png = one_seed(seed, args)
        per_seed.append(rows)
        plots.append(png)
    summary, table, notes = summarise(per_seed)
    os.makedirs(args.work_root, exist_ok=True)
    with open(osp.join(args.work_root, 'summary.json'), 'w') as f:
        json.dump(dict(seeds=args.seeds, num_images=args.num_images, rows=summary,
                       backends=measured_backends(per_seed), agreement=notes,
                       plots=plots), f, indent=1)
    with open(osp.join(args.work_root, 'summary.md'), 'w') as f:
        f.write(table + '\n' + ''.join(f'\n{line}\n' for line in notes))
    print(f'\nseeds {args.seeds}, {args.num_images} validation images, batch 1, CPU; '
          'mean ± std over the seeds (calibration on the held-out split); CPU ms per '
          'backend: PatchClassifier(backend=...) with that engine')
    print(table)
    for line in notes:
        print(line)
    print('plots: ' + ', '.join(plots))


if __name__ == '__main__':
    main()
