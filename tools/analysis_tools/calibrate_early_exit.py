"""Calibrate the early-exit thresholds of a PatchClassifier on held-out images.

    python tools/analysis_tools/calibrate_early_exit.py CONFIG CKPT \\
        (--target-gmacs G | --max-top1-drop P) [--stages 1 [2 ...]] \\
        [--score max|margin] [--families constant decay [budget]] \\
        [--selection bootstrap|plain] [--quantile 0.95] [--full CONFIG CKPT] \\
        [--rescale CONFIG CKPT] [--num-images N] [--records FILE] \\
        [--no-validation | --val-records FILE] [--out-dir DIR] [--device auto]

1. One pass of CONFIG's all-patch pipeline (its ``exit_cfg`` switched off)
   over the config's ``calibration_dataloader`` -- held-out training images,
   never the test split -- records every image's patch softmaxes
   (``calibration_records.json``; ``--records`` reuses such a file instead).
2. Offline, every image's prediction after each stage gives a stage table;
   a sweep of thresholds (``--families``: ``constant``, one threshold for
   every stage, and ``decay``, a threshold ``t * d^stage`` falling from stage
   to stage (two parameters), the default; ``budget``, MSDNet's budgeted
   ones, one per stage) gives top-1 and GMACs per image (AnchorNet
   included) for each;
   the table of the Pareto front is printed.
3. The thresholds for the target -- the best top-1 within ``--target-gmacs``,
   or the fewest GMACs within ``--max-top1-drop`` points of the all-patch
   top-1 -- are written as ``early_exit_cfg.py``, a config that inherits
   CONFIG (``tools/test.py OUT/early_exit_cfg.py CKPT`` runs it), and the
   plot ``early_exit_sweep.png`` shows top-1 against GMACs per image with
   the ``--full`` (whole-image) and ``--rescale`` (Table 4 control) models
   evaluated on the same images. With ``--max-top1-drop`` the default
   ``--selection bootstrap`` asks the drop to hold on the ``--quantile`` (0.95,
   Sidak-corrected for the number of threshold curves swept) of
   bootstrap draws of the calibration images
   (:func:`~mmfsod.classification.early_exit_selection.pick_bootstrap`), not
   only on the calibration images themselves (``--selection plain``: a
   choice on a small split does not hold on other images).
4. The chosen thresholds are then evaluated on the config's validation
   images (``test_dataloader``: one all-patch pass, ``validation_records.json``;
   ``--val-records`` reuses one): the line ``validation drop: D ± SE ...``
   gives the top-1 drop against all patches there, with its paired standard
   error (from the images lost and gained: on 120 images a drop of a few
   points is within the noise). That split is only reported,
   never used for the choice (``--no-validation`` skips it).

The models run and are counted as ``benchmark_patch_pipeline.py`` runs them
(``optimize_for_inference``: BN folded, unused test-time work skipped; the
logits do not change), unless ``--no-optimize``.

A target no threshold reaches exits with status 2 and names the closest
reachable point.
"""
import argparse
import math
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmengine.config import Config, DictAction  # noqa: E402

import mmfsod  # noqa: E402,F401  (compat: checkpoints on torch >= 2.6)
from mmfsod.classification import early_exit  # noqa: E402
from mmfsod.classification import early_exit_selection as selection  # noqa: E402
from mmfsod.classification.apis import early_exit_calibration as calib  # noqa: E402
from mmfsod.utils.device import add_device_arg  # noqa: E402


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not an integer: {text!r}')
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}')
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f'must be a number >= 0, got {text!r}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a PatchClassifier config (mode localize)')
    parser.add_argument('checkpoint', help='its checkpoint ("none": initial weights)')
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--target-gmacs', type=non_negative_float,
                        help='best top-1 with at most this many GMACs per image')
    target.add_argument('--max-top1-drop', type=non_negative_float,
                        help='fewest GMACs within this many top-1 points of the '
                        'all-patch pipeline')
    parser.add_argument('--stages', type=positive_int, nargs='+', default=None,
                        help='patches per stage (the last repeats); default the '
                        "config's exit_cfg.stages, else 1")
    parser.add_argument('--score', choices=early_exit.EXIT_SCORES, default=None,
                        help="confidence; default the config's exit_cfg.score, else max")
    parser.add_argument('--families', nargs='+', choices=early_exit.SWEEP_FAMILIES,
                        default=['constant', 'decay'],
                        help='threshold families swept: constant (one threshold for '
                        'every stage) and decay (t * d^stage, d in 0.9 ... 0.5), the '
                        'default; budget (MSDNet, one per stage)')
    parser.add_argument('--num-thresholds', type=positive_int, default=101,
                        help='constant thresholds swept (quantiles of the confidences)')
    parser.add_argument('--selection', choices=selection.SELECTIONS, default='bootstrap',
                        help='--max-top1-drop on the bootstrap quantile of the drop '
                        '(default) or on the calibration images only (plain)')
    parser.add_argument('--quantile', type=non_negative_float, default=0.95,
                        help='bootstrap quantile of the drop held to the budget, '
                        'Sidak-corrected for the threshold curves swept '
                        '(default 0.95)')
    parser.add_argument('--resamples', type=positive_int, default=2000,
                        help='bootstrap draws (default 2000)')
    parser.add_argument('--bootstrap-seed', type=int, default=0)
    parser.add_argument('--full', nargs=2, metavar=('CONFIG', 'CKPT'),
                        help='the whole-image model (mode full), a point of the plot')
    parser.add_argument('--rescale', nargs=2, metavar=('CONFIG', 'CKPT'),
                        help="Table 4's rescale control, a point of the plot")
    parser.add_argument('--num-images', type=positive_int, default=None,
                        help='only the first N images of the calibration split')
    parser.add_argument('--records', help='reuse a calibration_records.json (no pass)')
    val = parser.add_mutually_exclusive_group()
    val.add_argument('--val-records', help='reuse a validation_records.json (no pass)')
    val.add_argument('--no-validation', action='store_true',
                     help='do not evaluate the choice on the validation images')
    parser.add_argument('--out-dir', help='default work_dirs/<config>_early-exit')
    parser.add_argument('--no-optimize', action='store_true',
                        help='count and run the models as built (default: '
                        'optimize_for_inference without compiling, as '
                        'benchmark_patch_pipeline.py does, so that both count the '
                        'same MACs)')
    add_device_arg(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides of CONFIG (and of --full / --rescale)')
    args = parser.parse_args(argv)
    if args.quantile > 1:
        parser.error(f'--quantile must be in [0, 1], got {args.quantile}')
    return args


def load(config, checkpoint, cfg_options, device, optimize):
    model, cfg = calib.load_patch_classifier(config, checkpoint, cfg_options, device)
    if optimize:
        # BN folded and unused test-time work skipped (the logits do not
        # change): the MACs counted are those the benchmark counts
        from mmfsod.classification.models.utils import optimize_for_inference
        optimize_for_inference(model)
    return model, cfg


def reference_point(pair, split_cfg, num_images, cfg_options, device, optimize, what):
    config, checkpoint = pair
    model, _ = load(config, checkpoint, cfg_options, device, optimize)
    print(f'== {what}: {osp.basename(config)} on the same images')
    return calib.records_summary(calib.record_split(model, split_cfg, num_images, device))


def format_table(results, chosen):
    lines = ['family       | parameter | top-1 % | GMACs  | patches | thresholds',
             '-------------+-----------+---------+--------+---------+-----------']
    for r in results:
        param = '' if r['param'] is None else f'{r["param"]:.4g}'
        if 'decay' in r:
            param += f' x{r["decay"]:g}'
        mark = '  <- chosen' if r is chosen else ''
        lines.append(f'{r["family"]:<12} | {param:<9} | {r["top1"]:7.2f} | '
                     f'{r["macs"] / 1e9:6.4f} | {r["patches"]:7.2f} | '
                     f'{early_exit.format_thresholds(r["thresholds"])[:60]}{mark}')
    return '\n'.join(lines)


def validation_line(args, model, cfg, out_dir, stages, score, chosen, full_image):
    """The chosen thresholds on the config's validation images (its
    ``test_dataloader``, every image; all patches recorded once): one line
    with the top-1 drop against all patches there. Reported, never chosen
    on."""
    if args.val_records:
        records, meta = calib.load_records(args.val_records)
        split = meta.get('split')
    else:
        if cfg.get('test_dataloader') is None:
            raise SystemExit(f'{args.config}: no test_dataloader to report the '
                             'validation drop on (--no-validation skips it)')
        loader = cfg.test_dataloader.to_dict()
        split = calib.describe_split(loader)
        print(f'== validation pass (reported, not used for the choice): all patches '
              f'of {split}')
        records = calib.record_split(model, loader, None, args.device)
        path = osp.join(out_dir, 'validation_records.json')
        calib.save_records(path, records, dict(config=osp.abspath(args.config),
                                               checkpoint=args.checkpoint, split=split))
        print(f'written {path}')
    t = selection.transfer(calib.stage_table(records, stages, score),
                           chosen['thresholds'])
    ratio = '' if not full_image else \
        f' ({t["macs"] / full_image["macs"]:.2f}x the full image)'
    budget = '' if args.max_top1_drop is None else \
        f'; budget {args.max_top1_drop:g}'
    return (f'validation drop: {t["drop"]:.2f} ± {t["drop_se"]:.2f} points (early exit '
            f'{t["top1"]:.2f}% vs all patches {t["all_top1"]:.2f}% on {len(records)} '
            f'images of {split}: {t["lost"]} lost, {t["gained"]} gained; not used for '
            f'the choice{budget}), {t["macs"] / 1e9:.4f} GMACs per image{ratio}, '
            f'{t["patches"]:.2f} patches')


def main(argv=None):
    args = parse_args(argv)
    model, cfg = load(args.config, args.checkpoint,
                      dict(args.cfg_options or {}, **{'model.exit_cfg': None}),
                      args.device, not args.no_optimize)
    if model.mode != 'localize':
        raise SystemExit(f'{args.config}: early exit needs mode localize, got '
                         f'{model.mode!r}')
    # the config's own setting (before the override above) gives the defaults
    base_cfg = Config.fromfile(args.config)
    if args.cfg_options:
        base_cfg.merge_from_dict(args.cfg_options)
    own = base_cfg.model.get('exit_cfg') or {}
    stages = tuple(args.stages or own.get('stages', (1, )))
    score = args.score or own.get('score', 'max')
    name = osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out_dir or osp.join('work_dirs', f'{name}_early-exit')
    split_cfg = calib.calibration_loader_cfg(base_cfg, args.config)
    split = calib.describe_split(split_cfg)

    if args.records:
        records, meta = calib.load_records(args.records)
        print(f'records: {args.records} ({len(records)} images of {meta.get("split")})')
    else:
        print(f'== calibration pass: all patches of {split}')
        records = calib.record_split(model, split_cfg, args.num_images, args.device)
        meta = dict(config=osp.abspath(args.config), checkpoint=args.checkpoint,
                    split=split)
        path = osp.join(out_dir, 'calibration_records.json')
        calib.save_records(path, records, meta)
        print(f'written {path}')
    table = calib.stage_table(records, stages, score)
    results = early_exit.sweep(table, num_constant=args.num_thresholds,
                               families=args.families)
    full_patch = next(r for r in results if r['family'] == 'all patches')
    bootstrap = args.max_top1_drop is not None and args.selection == 'bootstrap'
    try:
        if bootstrap:
            picked = selection.pick_bootstrap(table, results, args.max_top1_drop,
                                              args.quantile, args.resamples,
                                              args.bootstrap_seed)
            chosen = next(r for r in results if r['family'] == picked['family']
                          and r['thresholds'] == picked['thresholds'])
        else:
            chosen = early_exit.pick(
                results, target_macs=None if args.target_gmacs is None
                else args.target_gmacs * 1e9, max_top1_drop=args.max_top1_drop)
    except early_exit.UnreachableTarget as err:
        print(format_table(early_exit.pareto_front(results), None))
        print(f'calibrate_early_exit: {err}', file=sys.stderr)
        return 2
    front = early_exit.pareto_front(results)
    if chosen not in front:
        front = sorted(front + [chosen], key=lambda r: r['macs'])
    print(f'\nsweep on {len(table)} held-out images ({split}), stages {stages}, '
          f'score {score}; Pareto front:')
    print(format_table(front, chosen))

    target = (f'--target-gmacs {args.target_gmacs}' if args.target_gmacs is not None
              else f'--max-top1-drop {args.max_top1_drop}')
    how = f'families {" ".join(args.families)}'
    if bootstrap:
        how += (f', bootstrap selection: drop {picked["drop"]:.2f} points on these '
                f'images, {picked["drop_bound"]:.2f} on the {picked["quantile"]:.4g} quantile '
                f'({args.quantile:g} over {selection.swept_curves(results)} threshold curves) '
                f'of {args.resamples} draws')
        print(f'selection: {how}')
    exit_cfg = dict(stages=stages, thresholds=chosen['thresholds'], score=score)
    comment = (f'Early-exit thresholds calibrated by tools/analysis_tools/'
               f'calibrate_early_exit.py ({target})\n'
               f'on {len(table)} held-out images: {split}\n'
               f'checkpoint {args.checkpoint}\n'
               f'calibration split: {chosen["top1"]:.2f}% top-1, '
               f'{chosen["macs"] / 1e9:.4f} GMACs, {chosen["patches"]:.2f} patches per '
               f'image ({early_exit.describe(chosen)}); all patches: '
               f'{full_patch["top1"]:.2f}%, {full_patch["macs"] / 1e9:.4f} GMACs\n'
               f'{how}')
    cfg_path = osp.join(out_dir, 'early_exit_cfg.py')
    calib.write_exit_config(cfg_path, args.config, exit_cfg, comment)

    points = {'all patches': full_patch}
    if args.full:
        points['full image'] = reference_point(args.full, split_cfg, args.num_images,
                                               args.cfg_options, args.device,
                                               not args.no_optimize, 'full image')
    if args.rescale:
        points['rescale (Table 4)'] = reference_point(args.rescale, split_cfg,
                                                      args.num_images, args.cfg_options,
                                                      args.device, not args.no_optimize,
                                                      'rescale control')
    png = osp.join(out_dir, 'early_exit_sweep.png')
    calib.plot_sweep(png, results, chosen, points,
                     f'{name}: early exit on {len(table)} held-out images')
    for key, p in points.items():
        print(f'{key}: top-1 {p["top1"]:.2f}%, {p["macs"] / 1e9:.4f} GMACs, '
              f'{p["patches"]:.2f} inputs per image')
    print(f'written {cfg_path}\nwritten {png}')
    print(f'chosen ({target}): top-1 {chosen["top1"]:.2f}%, '
          f'{chosen["macs"] / 1e9:.4f} GMACs, {chosen["patches"]:.2f} patches per image')
    if not args.no_validation:
        print(validation_line(args, model, base_cfg, out_dir, stages, score, chosen,
                              points.get('full image')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
