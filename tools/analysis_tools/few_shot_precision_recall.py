"""Precision and recall of tools/few_shot_demo.py's detections against a
COCO ground truth, at one IoU and one score threshold.

    python tools/analysis_tools/few_shot_precision_recall.py \\
        OUT_DIR/results.bbox.json data/toy_shapes/annotations/instances_val.json \\
        [--img-dir DIR] [--classes A B ...] [--iou 0.5] [--score-thr 0.3]

    # the images of a ground truth that hold some classes (one path a line)
    python tools/analysis_tools/few_shot_precision_recall.py --list-images \\
        data/toy_shapes/annotations/instances_val.json \\
        --classes blue_triangle cyan_diamond purple_crescent

Images are matched by file (the results' ``file_name`` against
``IMG_DIR/<file_name>`` of the ground truth), classes by name. IMG_DIR is
``--img-dir``, by default the first folder holding the ground truth's images
of ``ROOT/images/`` for ``ROOT/annotations/GT.json`` (the layout of
docs/custom_dataset.md), ``ROOT/`` (the toy sets' layout) and the json's
folder. The images
counted are the queried ones (``OUT_DIR/preds/*.json``, one per image, also
those without a detection), or those of the results where there is no
``preds`` folder; the classes are ``--classes`` (give the support classes:
a class without any detection still counts its boxes), or those of the
results. Per image and class, detections
at or above the score threshold are matched greedily by score to unmatched
ground-truth boxes with IoU >= the threshold (COCO's rule); crowd boxes
are left out. Prints the counts and precision / recall per class and over
all.
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (N, 4) and (M, 4) ``x1, y1, x2, y2`` boxes -> (N, M)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-12)


def match(dets: np.ndarray, scores: np.ndarray, gts: np.ndarray, iou_thr: float) -> int:
    """True positives among ``dets`` (sorted by score here) against ``gts``."""
    if len(dets) == 0 or len(gts) == 0:
        return 0
    order = np.argsort(-scores, kind='stable')
    ious = box_iou(dets[order], gts)
    used = np.zeros(len(gts), bool)
    tp = 0
    for row in ious:
        row = np.where(used, -1.0, row)
        best = int(row.argmax())
        if row[best] >= iou_thr:
            used[best] = True
            tp += 1
    return tp


def _xyxy(b: Sequence[float]) -> List[float]:
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


def load_gt(gt_file: str, img_dir: str):
    with open(gt_file) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    files = {im['id']: osp.normpath(osp.abspath(osp.join(img_dir, im['file_name'])))
             for im in coco['images']}
    boxes: Dict[str, Dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for a in coco['annotations']:
        if not a.get('iscrowd', 0):
            boxes[files[a['image_id']]][names[a['category_id']]].append(_xyxy(a['bbox']))
    return files, boxes


def precision_recall(results: list, gt_file: str, img_dir: str, iou_thr: float = 0.5,
                     score_thr: float = 0.3, images: Sequence[str] = None,
                     classes: Sequence[str] = None) -> Dict[str, dict]:
    """Counts per class (and ``'all'``): ``tp``, ``dets``, ``gts``,
    ``precision``, ``recall``.

    ``images`` (paths) and ``classes`` say what was queried; without them,
    the images and classes found in ``results`` (an image or class without
    any detection would then leave its ground truth out of the recall)."""
    files, gt = load_gt(gt_file, img_dir)
    known = set(files.values())
    dets: Dict[str, Dict[str, list]] = defaultdict(lambda: defaultdict(list))
    queried = None
    if images is not None:
        queried = {osp.normpath(osp.abspath(p)) for p in images}
        unknown = sorted(queried - known)
        if unknown:
            raise ValueError(f'{unknown[0]} is not an image of {gt_file} under {img_dir}')
    images = set(queried or ())
    classes = list(classes or [])
    fixed_classes = bool(classes)
    for r in results:
        path = osp.normpath(osp.abspath(r['file_name']))
        if path not in known:
            raise ValueError(f'{r["file_name"]} is not an image of {gt_file} under {img_dir}')
        if queried is not None and path not in queried:
            raise ValueError(f'{r["file_name"]} is in the results but not among the '
                             'queried images')
        images.add(path)
        if r['category_name'] not in classes:
            if fixed_classes:
                continue
            classes.append(r['category_name'])
        if r['score'] >= score_thr:
            dets[path][r['category_name']].append((_xyxy(r['bbox']), r['score']))
    out = {}
    for name in classes:
        tp = nd = ng = 0
        for img in images:
            d = dets[img][name]
            g = np.array(gt[img][name], np.float64).reshape(-1, 4)
            nd += len(d)
            ng += len(g)
            tp += match(np.array([b for b, _ in d], np.float64).reshape(-1, 4),
                        np.array([s for _, s in d]), g, iou_thr)
        out[name] = dict(tp=tp, dets=nd, gts=ng)
    total = {k: sum(v[k] for v in out.values()) for k in ('tp', 'dets', 'gts')}
    out['all'] = total
    for v in out.values():
        v['precision'] = v['tp'] / v['dets'] if v['dets'] else float('nan')
        v['recall'] = v['tp'] / v['gts'] if v['gts'] else float('nan')
    out['all']['images'] = len(images)
    return out


def list_images(gt_file: str, img_dir: str, classes: Sequence[str]) -> List[str]:
    """The image paths of ``gt_file`` that hold an instance of ``classes``."""
    files, gt = load_gt(gt_file, img_dir)
    return sorted(p for p in files.values() if any(gt[p].get(c) for c in classes))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('files', nargs='+', help='RESULTS_JSON GT_JSON, or GT_JSON with '
                        '--list-images')
    parser.add_argument('--img-dir', default=None,
                        help="the folder the ground truth's file_name is relative to "
                        '(default: the first holding its images of ROOT/images/ for '
                        "ROOT/annotations/GT.json, ROOT/, the json's folder)")
    parser.add_argument('--iou', type=float, default=0.5)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--list-images', action='store_true',
                        help='print the images holding --classes instead')
    parser.add_argument('--classes', nargs='+')
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except (FileNotFoundError, ValueError) as exc:
        print(f'few_shot_precision_recall.py: error: {exc}', file=sys.stderr)
        return 2


def default_img_dir(gt_file: str) -> str:
    """The folder the ground truth's ``file_name`` is relative to (see the
    module docstring); one-line error when none holds its images."""
    from mmfsod.detection.apis.paths import find_image_dir, image_dir_candidates
    if not osp.isfile(gt_file):
        raise FileNotFoundError(f'ground-truth json not found: {gt_file}')
    with open(gt_file) as f:
        names = [im['file_name'] for im in json.load(f).get('images', [])]
    return find_image_dir(gt_file, names, image_dir_candidates(gt_file), '--img-dir')


def _run(parser, args) -> int:
    gt_file = args.files[-1]
    img_dir = args.img_dir or default_img_dir(gt_file)
    if args.list_images:
        if len(args.files) != 1 or not args.classes:
            parser.error('--list-images takes GT_JSON and --classes')
        print('\n'.join(list_images(gt_file, img_dir, args.classes)))
        return 0
    if len(args.files) != 2:
        parser.error('give RESULTS_JSON GT_JSON')
    with open(args.files[0]) as f:
        results = json.load(f)
    # the queried images: one OUT_DIR/preds/*.json per image (also those
    # without a detection) where tools/few_shot_demo.py wrote them
    images = None
    preds = osp.join(osp.dirname(osp.abspath(args.files[0])), 'preds')
    if osp.isdir(preds):
        images = []
        for folder, _, names in sorted(os.walk(preds)):  # sub-folders: same names
            for name in sorted(names):
                if name.endswith('.json'):
                    with open(osp.join(folder, name)) as f:
                        images.append(json.load(f).get('img_path'))
        if not images or None in images:  # e.g. array inputs: no paths
            images = None
    table = precision_recall(results, gt_file, img_dir, args.iou, args.score_thr,
                             images=images, classes=args.classes)
    print(f'{table["all"]["images"]} images, IoU {args.iou}, score >= {args.score_thr}')
    print(f'{"class":<20} {"TP":>5} {"dets":>5} {"GT":>5} {"precision":>9} {"recall":>7}')
    for name, v in table.items():
        print(f'{name:<20} {v["tp"]:>5} {v["dets"]:>5} {v["gts"]:>5} '
              f'{v["precision"]:>9.3f} {v["recall"]:>7.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
