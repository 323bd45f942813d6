"""How often LSP's patches hit the labelled object of the toy clutter set.

    python tools/analysis_tools/lsp_object_overlap.py RECORDS.jsonl \
        data/toy_clutter/meta/objects_val.json

RECORDS is a file of LSP patch records (the LSP hook or
``localize_patches.py``); OBJECTS is the toy clutter set's
``meta/objects_<split>.json`` (the labelled object's box per image). A record
is matched to its object by the image's path relative to the split folder
(``<class>/<index>.jpg``). Boxes are half-open pixel ranges
``[x1, y1, x2, y2]`` of the original image (the records' ``ori_box``).

Printed, over the matched images, for the top patch (the first, most
activated one) and for any patch of the image:

* ``overlap``: the patch and the object box share at least one pixel
  (intersection area > 0, i.e. IoU > 0);
* ``centre``: the object's centre ``((x1 + x2) / 2, (y1 + y2) / 2)`` lies in
  the patch (``px1 <= cx < px2`` and ``py1 <= cy < py2``);
* ``contains``: the whole object box lies in the patch;
* the mean IoU of the top patch with the object; top-1 accuracy of the
  records (``pred_label == gt_label``) and the top-patch figures split by
  correct / wrong prediction and by branch;
* ``chance``: the same ``overlap`` / ``centre`` figures for a patch of the
  same branch at a uniformly random location (averaged over every location
  of the branch's map: side = the record's patch side, stride ``--stride``,
  8 for AnchorNet), the baseline the top patch should beat.
"""
import argparse
import json
import os.path as osp
import sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.classification.engine.lsp_recorder import read_lsp_records  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fraction of images whose LSP patches hit the labelled object')
    parser.add_argument('records', help='LSP patch records (.jsonl)')
    parser.add_argument('objects',
                        help="the toy clutter set's meta/objects_<split>.json")
    parser.add_argument('--stride', type=int, default=8,
                        help="the branches' stride (for the chance figures); 8 for "
                        'AnchorNet')
    parser.add_argument('--out-json', help='also write the figures to this json file')
    return parser.parse_args(argv)


def _key(path: str) -> str:
    """``<class>/<file>``: the last two components of a path."""
    parts = osp.normpath(path).replace('\\', '/').split('/')
    return '/'.join(parts[-2:])


def load_objects(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'objects file {path!r} does not exist')
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or 'images' not in data:
        raise ValueError(f'{path}: expected the toy clutter objects file (a dict with '
                         f'"images"), got {type(data).__name__}')
    objects = {}
    for i, image in enumerate(data['images']):
        if 'file' not in image or 'bbox' not in image:
            raise ValueError(f'{path}: image {i} has no "file" / "bbox"')
        objects[_key(image['file'])] = image
    return objects


def hits(patch, obj):
    """(overlap, centre, contains, iou) of a patch and an object box."""
    px1, py1, px2, py2 = patch
    ox1, oy1, ox2, oy2 = obj
    iw = max(0.0, min(px2, ox2) - max(px1, ox1))
    ih = max(0.0, min(py2, oy2) - max(py1, oy1))
    inter = iw * ih
    union = (px2 - px1) * (py2 - py1) + (ox2 - ox1) * (oy2 - oy1) - inter
    cx, cy = (ox1 + ox2) / 2, (oy1 + oy2) / 2
    centre = px1 <= cx < px2 and py1 <= cy < py2
    contains = px1 <= ox1 and py1 <= oy1 and ox2 <= px2 and oy2 <= py2
    return inter > 0, centre, contains, inter / union if union > 0 else 0.0


def chance(record, obj, stride: int):
    """(overlap, centre) averaged over every location of the record's branch
    map: ``rf x rf`` boxes every ``stride`` input pixels, in original
    pixels."""
    box, ori = record['patches'][0]['box'], record['patches'][0]['ori_box']
    rf = box[2] - box[0]
    sx = (box[2] - box[0]) / (ori[2] - ori[0])
    sy = (box[3] - box[1]) / (ori[3] - ori[1])
    H, W = record['input_size']
    ys = np.arange((H - rf) // stride + 1) * stride  # (h,)
    xs = np.arange((W - rf) // stride + 1) * stride  # (w,)
    ox1, oy1, ox2, oy2 = obj
    ov_x = (np.minimum((xs + rf) / sx, ox2) - np.maximum(xs / sx, ox1)) > 0  # (w,)
    ov_y = (np.minimum((ys + rf) / sy, oy2) - np.maximum(ys / sy, oy1)) > 0  # (h,)
    cx, cy = (ox1 + ox2) / 2, (oy1 + oy2) / 2
    in_x = (xs / sx <= cx) & (cx < (xs + rf) / sx)
    in_y = (ys / sy <= cy) & (cy < (ys + rf) / sy)
    # a box hits iff it hits along both axes: the mean factorizes
    return float(ov_x.mean() * ov_y.mean()), float(in_x.mean() * in_y.mean())


def object_overlap(records, objects, stride: int = 8) -> dict:
    """The figures described in the module doc, as a dict."""
    if not records:
        raise ValueError('no LSP records')
    rows = []
    for i, record in enumerate(records):
        key = _key(record['img_path'])
        if key not in objects:
            raise KeyError(f'record {i} ({record["img_path"]}): no image {key!r} in '
                           f'the objects file (records and objects of different '
                           f'splits?)')
        if not record['patches']:
            raise ValueError(f'record {i} ({record["img_path"]}) has no patch')
        obj = objects[key]['bbox']
        per_patch = [hits(p['ori_box'], obj) for p in record['patches']]
        top = per_patch[0]
        chance_overlap, chance_centre = chance(record, obj, stride)
        rows.append(dict(
            chance_overlap=chance_overlap, chance_centre=chance_centre,
            top_overlap=top[0], top_centre=top[1], top_contains=top[2], top_iou=top[3],
            any_overlap=any(h[0] for h in per_patch),
            any_centre=any(h[1] for h in per_patch),
            any_contains=any(h[2] for h in per_patch),
            correct=(record.get('gt_label') is not None
                     and record['pred_label'] == record['gt_label']),
            branch=record['branch'], num_patches=len(per_patch)))

    def summary(subset):
        if not subset:
            return dict(num=0)
        out = dict(num=len(subset))
        for k in ('top_overlap', 'top_centre', 'top_contains', 'any_overlap',
                  'any_centre', 'any_contains', 'chance_overlap', 'chance_centre'):
            out[k] = float(np.mean([r[k] for r in subset]))
        out['top_iou_mean'] = float(np.mean([r['top_iou'] for r in subset]))
        out['patches_mean'] = float(np.mean([r['num_patches'] for r in subset]))
        return out

    by_branch = defaultdict(list)
    for r in rows:
        by_branch[r['branch']].append(r)
    return dict(all=summary(rows),
                top1=float(np.mean([r['correct'] for r in rows])),
                correct=summary([r for r in rows if r['correct']]),
                wrong=summary([r for r in rows if not r['correct']]),
                by_branch={b: summary(v) for b, v in sorted(by_branch.items())})


def format_figures(fig: dict) -> str:
    def line(name, s):
        if not s['num']:
            return f'{name:<14} {0:>5}'
        return (f'{name:<14} {s["num"]:>5} {s["top_overlap"]:>8.3f} '
                f'{s["top_centre"]:>8.3f} {s["top_contains"]:>9.3f} '
                f'{s["top_iou_mean"]:>8.3f} {s["any_overlap"]:>8.3f} '
                f'{s["any_centre"]:>8.3f} {s["patches_mean"]:>8.2f} '
                f'{s["chance_overlap"]:>10.3f} {s["chance_centre"]:>8.3f}')
    out = [f'{"images":<14} {"n":>5} {"top:IoU>0":>8} {"centre":>8} {"contains":>9} '
           f'{"meanIoU":>8} {"any:IoU>0":>8} {"centre":>8} {"patches":>8} '
           f'{"chance:IoU>0":>10} {"centre":>8}',
           line('all', fig['all']), line('correct', fig['correct']),
           line('wrong', fig['wrong'])]
    out += [line(f'branch {b}', s) for b, s in fig['by_branch'].items()]
    a = fig['all']
    out += ['', f'top-1 of the records: {fig["top1"]:.4f}',
            f'top patch overlaps the object (IoU > 0): {a["top_overlap"]:.4f}; holds '
            f'its centre: {a["top_centre"]:.4f}; holds all of it: '
            f'{a["top_contains"]:.4f} ({a["num"]} images)',
            f'a random patch of the same branch: overlaps {a["chance_overlap"]:.4f}, '
            f'holds the centre {a["chance_centre"]:.4f}']
    return '\n'.join(out)


def main(argv=None):
    args = parse_args(argv)
    fig = object_overlap(read_lsp_records(args.records), load_objects(args.objects),
                         stride=args.stride)
    print(format_figures(fig))
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(fig, f, indent=1)
    return fig


if __name__ == '__main__':
    main()
