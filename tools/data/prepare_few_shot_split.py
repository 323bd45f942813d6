"""Write K-shot few-shot splits of a COCO json or VOC roots, selected as TFA does.

    python tools/data/prepare_few_shot_split.py --ann COCO.json --seeds 0 1 2 \\
        --shots 1 2 3 5 10 30 --out data/cocosplit [--classes a b] [--allow-fewer]
    python tools/data/prepare_few_shot_split.py --format voc \\
        --voc-roots data/VOCdevkit/VOC2007 data/VOCdevkit/VOC2012 --seeds 1 2 3 \\
        --out data/VOCdevkit/vocsplit [--kang-dir DIR] [--class-order toy]

COCO files are TFA's: ``OUT/full_box_{K}shot_{class}_trainval.json`` for seed 0
and ``OUT/seed{N}/...`` for the other seeds
(mmfsod/detection/datasets/few_shot_split.py). VOC files are TFA's
``box_{K}shot_{class}_train.txt`` (image paths, shots 1 2 3 5 10 by default),
drawn from every root's ImageSets/Main/trainval.txt as TFA's
prepare_voc_few_shot.py draws them
(mmfsod/detection/datasets/voc_few_shot_sampler.py); VOC seed 0 is Kang et
al.'s fixed sample, copied from --kang-dir (or drawn, --sample-seed0, for
data other than VOC). The same annotations and seed always give the same files.
"""
import argparse
import os.path as osp
import sys

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.detection.datasets.few_shot_split import (  # noqa: E402
    TFA_SHOTS, load_coco_json, seed_dir, write_few_shot_splits)
from mmfsod.detection.datasets.voc_few_shot_sampler import (  # noqa: E402
    write_voc_few_shot_splits)
from mmfsod.detection.datasets.voc_splits import (TFA_VOC_SHOTS,  # noqa: E402
                                                  TOY_VOC_SPLIT, VOC_CLASSES)

# --class-order names -> the class order of the VOC sampler's random stream
CLASS_ORDERS = dict(voc=VOC_CLASSES, toy=TOY_VOC_SPLIT['ALL_CLASSES'])


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f'{what} must be an integer >= '
                                             f'{minimum}, got {text!r}')
        return value
    return parse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--format', choices=('coco', 'voc'), default='coco',
                        help='annotation format (default: %(default)s)')
    parser.add_argument('--ann', help='COCO annotation json (--format coco)')
    parser.add_argument('--voc-roots', nargs='+', metavar='ROOT',
                        help='VOC roots (Annotations/, ImageSets/Main/trainval.txt), '
                        'in TFA\'s order: VOC2007 then VOC2012 (--format voc)')
    parser.add_argument('--class-order', nargs='+', default=['voc'],
                        help='--format voc: the classes in the order the sampler draws '
                        'them: "voc" (VOC\'s 20, TFA), "toy" (the toy shapes) or the '
                        'names (default: voc)')
    parser.add_argument('--kang-dir', help='--format voc, seed 0: the folder of Kang et '
                        'al.\'s box_{K}shot_{class}_train.txt files, copied into OUT')
    parser.add_argument('--sample-seed0', action='store_true',
                        help='--format voc: draw seed 0 with the sampler (data other '
                        'than VOC) instead of copying Kang et al.\'s files')
    parser.add_argument('--prefix', default='datasets',
                        help='--format voc: the start of every line (TFA: %(default)s)')
    parser.add_argument('--seeds', type=_int_at_least(0, 'a seed'), nargs='+',
                        required=True, help='seeds (0 writes into OUT itself)')
    parser.add_argument('--shots', type=_int_at_least(1, 'a shot'), nargs='+',
                        help=f'K values (default: COCO {list(TFA_SHOTS)}, VOC '
                        f'{list(TFA_VOC_SHOTS)})')
    parser.add_argument('--out', required=True, help='output root directory')
    parser.add_argument('--classes', nargs='+',
                        help='class names to write (default: all)')
    parser.add_argument('--allow-fewer', action='store_true',
                        help='warn and keep what exists when a class has '
                        'fewer instances than K, instead of failing')
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds must be distinct, got {args.seeds}')
    if args.format == 'coco' and (args.ann is None or args.voc_roots):
        parser.error('--format coco needs --ann COCO.json (VOC roots: --format voc)')
    if args.format == 'voc' and (not args.voc_roots or args.ann):
        parser.error('--format voc needs --voc-roots ROOT [ROOT ...] (a json: --format coco)')
    if args.shots is None:
        args.shots = list(TFA_SHOTS if args.format == 'coco' else TFA_VOC_SHOTS)
    order = args.class_order
    args.class_order = CLASS_ORDERS[order[0]] if order in (['voc'], ['toy']) else order
    return parser, args


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    try:
        if args.format == 'voc':
            # one call: the XMLs are read once for every seed
            written = write_voc_few_shot_splits(
                args.voc_roots, args.out, args.seeds, args.shots, args.class_order,
                args.classes, args.kang_dir, args.sample_seed0, args.prefix,
                args.allow_fewer)
            for seed, paths in written.items():
                print(f'seed {seed}: wrote {len(paths)} files to '
                      f'{seed_dir(args.out, seed)}', flush=True)
            return 0
        coco = load_coco_json(args.ann)
        for seed in args.seeds:
            paths = write_few_shot_splits(coco, args.out, [seed], args.shots,
                                          args.classes, args.allow_fewer)[seed]
            print(f'seed {seed}: wrote {len(paths)} files to '
                  f'{seed_dir(args.out, seed)}', flush=True)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == '__main__':
    sys.exit(main())
