"""Detect new classes from a few boxes with a GCN-FSOD checkpoint.

    python tools/few_shot_demo.py QUERY [QUERY ...] CONFIG CHECKPOINT \\
        [--supports FILE [FILE ...]] [--support-img-dir DIR] [--classes A B] \\
        [--ann-file QUERY_JSON] [--out-dir DIR] [--score-thr 0.3] \\
        [--fine-tune-iters N] [--device auto]

QUERY is an image, a folder or a glob (quote it). The supports are COCO-format
jsons (every box is a support of its category; a box partly outside its image
is clipped to it) or a template json; without --supports, the templates
recorded in the checkpoint. The support json's file_name is relative to
--support-img-dir, by default the first folder holding its images of: the
config's data_root + data_prefix img, ROOT/images/ for ROOT/annotations/*.json
(the layout of docs/custom_dataset.md), ROOT/, the json's folder. No training
is needed: the support features come from the boxes. With --fine-tune-iters
N, a short K-shot fine-tuning on the supports runs first (CONFIG's frozen
parts, optimiser and schedule shape, stretched to N iterations); its
checkpoint, with the supports as templates, goes to OUT_DIR/fine-tune/.

Writes OUT_DIR/vis/*.jpg (boxes above --score-thr, labelled "<class> <score>",
the score a fraction as --score-thr takes it), OUT_DIR/preds/*.json (labels,
label_names, scores, boxes in image pixels) and OUT_DIR/results.bbox.json
(every detection: bbox x, y, w, h, score, file_name, category_name; with
--ann-file QUERY_JSON also that json's image_id, matched by file_name ending
the query's path, and category_id, matched by class name: COCO's results
format, to evaluate with pycocotools against QUERY_JSON). Pictures and jsons
are named as the query, or by its path below the queries' common folder when
two queries share a file name.
"""
import argparse
import os.path as osp
import sys
import time

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))


def parse_args(argv=None):
    from mmfsod.utils.device import add_device_arg
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('query', nargs='+', help='image(s), folder(s) or glob(s)')
    parser.add_argument('config', help='the GCN-FSOD config (a fine-tuning config to '
                        'fine-tune with --fine-tune-iters)')
    parser.add_argument('checkpoint', help='its checkpoint (base-trained or fine-tuned)')
    parser.add_argument('--supports', nargs='+', metavar='FILE',
                        help='COCO json(s) of the support boxes, or a template json '
                        '(default: the templates recorded in the checkpoint)')
    parser.add_argument('--support-img-dir',
                        help="the folder the support json's file_name is relative to "
                        "(default: the first holding its images of the config's "
                        'data_root + data_prefix img, ROOT/images/ for '
                        'ROOT/annotations/*.json, ROOT/, the json\'s folder)')
    parser.add_argument('--ann-file', metavar='QUERY_JSON',
                        help='a COCO json of the query images: results.bbox.json then '
                        "carries its image_id and category_id (COCO's results format)")
    parser.add_argument('--classes', nargs='+', help='the support classes to detect '
                        '(default: every class with a support box)')
    parser.add_argument('--out-dir', default='outputs/few_shot_demo',
                        help='output folder (default: %(default)s)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='score threshold of the drawn boxes (default: %(default)s)')
    parser.add_argument('--fine-tune-iters', type=int, metavar='N',
                        help='first fine-tune N iterations on the supports')
    parser.add_argument('--fine-tune-dir', help='work folder of the fine-tuning '
                        '(default: OUT_DIR/fine-tune)')
    parser.add_argument('--batch-size', type=int, default=1)
    add_device_arg(parser, help='(Detection; a --fine-tune-iters run trains with '
                   "mmengine's Runner, on CUDA when one is visible.)")
    parser.add_argument('--save-templates', metavar='JSON',
                        help='also write the supports as a template json')
    parser.add_argument('--no-save-vis', action='store_true', help='no pictures')
    parser.add_argument('--no-save-pred', action='store_true', help='no json files')
    parser.add_argument('--print-result', action='store_true')
    args = parser.parse_args(argv)
    if args.fine_tune_iters is not None and args.fine_tune_iters < 1:
        parser.error(f'--fine-tune-iters must be >= 1, got {args.fine_tune_iters}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return parser, args


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    from mmfsod.detection.apis import (FewShotDetInferencer, expand_query,
                                       fine_tune_on_supports)
    from mmengine.config import Config

    from mmfsod.detection.apis.paths import CocoIds, config_image_dirs
    from mmfsod.detection.apis.supports import load_support_set
    start = time.perf_counter()
    try:
        queries = expand_query(args.query)
        for path in (args.config, args.checkpoint):
            if not osp.isfile(path):
                raise FileNotFoundError(f'not found: {path}')
        if args.ann_file:  # every query an image of it, before any work
            CocoIds(args.ann_file).image_ids(queries)
        config, checkpoint, supports = args.config, args.checkpoint, args.supports
        if args.fine_tune_iters:
            if supports is None:
                raise ValueError('--fine-tune-iters needs --supports')
            support_set = load_support_set(
                supports, args.support_img_dir, args.classes,
                config_dirs=config_image_dirs(Config.fromfile(config)))
            work_dir = args.fine_tune_dir or osp.join(args.out_dir, 'fine-tune')
            config, checkpoint = fine_tune_on_supports(config, checkpoint, support_set,
                                                       work_dir, args.fine_tune_iters)
            print(f'fine-tuned {args.fine_tune_iters} iterations: {checkpoint} (config '
                  f'{config}; evaluate it with tools/test.py CONFIG {checkpoint})',
                  flush=True)
            supports = None  # the checkpoint's templates are these supports
        inferencer = FewShotDetInferencer(config, checkpoint, supports=supports,
                                          support_img_dir=args.support_img_dir,
                                          classes=args.classes, device=args.device)
        inferencer._need_supports()
        counts = {c: len(v) for c, v in inferencer.support_set.items()}
        print(f'{len(counts)} support classes: '
              + ', '.join(f'{c} ({k} boxes)' for c, k in counts.items()), flush=True)
        if args.save_templates:
            print(f'templates written to {inferencer.save_templates(args.save_templates)}')
        out = inferencer(queries, batch_size=args.batch_size, out_dir=args.out_dir,
                         pred_score_thr=args.score_thr, no_save_vis=args.no_save_vis,
                         no_save_pred=args.no_save_pred, print_result=args.print_result,
                         ann_file=args.ann_file)
    except (FileNotFoundError, ValueError, TypeError, RuntimeError) as exc:
        print(f'few_shot_demo.py: error: {exc}', file=sys.stderr)
        return 2
    kept = [s for p in out['predictions'] for s in p['scores'] if s >= args.score_thr]
    print(f'{len(out["predictions"])} images, {len(kept)} detections with score >= '
          f'{args.score_thr} in {time.perf_counter() - start:.1f} s', flush=True)
    if not args.no_save_pred:
        print(f'results: {osp.join(args.out_dir, "results.bbox.json")}, '
              f'{osp.join(args.out_dir, "preds")}/')
        if args.ann_file:
            print(f'results.bbox.json: image_id and category_id of {args.ann_file} '
                  "(COCO's results format)")
        else:
            print('results.bbox.json: file_name and category_name, no image_id / '
                  'category_id (give --ann-file QUERY_JSON for the ids of your json)')
    if not args.no_save_vis:
        print(f'pictures: {osp.join(args.out_dir, "vis")}/')
    return 0


if __name__ == '__main__':
    sys.exit(main())
