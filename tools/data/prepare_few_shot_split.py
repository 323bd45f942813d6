"""Write K-shot few-shot splits of a COCO json, selected as TFA selects them.

    python tools/data/prepare_few_shot_split.py --ann COCO.json --seeds 0 1 2 \\
        --shots 1 2 3 5 10 30 --out data/cocosplit [--classes a b] [--allow-fewer]

Files are TFA's: ``OUT/full_box_{K}shot_{class}_trainval.json`` for seed 0 and
``OUT/seed{N}/...`` for the other seeds. The same json and seed always give
the same files. See mmfsod/detection/datasets/few_shot_split.py.
"""
import argparse
import os.path as osp
import sys

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.detection.datasets.few_shot_split import (  # noqa: E402
    TFA_SHOTS, load_coco_json, seed_dir, write_few_shot_splits)


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
    parser.add_argument('--ann', required=True, help='COCO annotation json')
    parser.add_argument('--seeds', type=_int_at_least(0, 'a seed'), nargs='+',
                        required=True, help='seeds (0 writes into OUT itself)')
    parser.add_argument('--shots', type=_int_at_least(1, 'a shot'), nargs='+',
                        default=list(TFA_SHOTS),
                        help='K values (default: %(default)s)')
    parser.add_argument('--out', required=True, help='output root directory')
    parser.add_argument('--classes', nargs='+',
                        help='class names to write (default: all)')
    parser.add_argument('--allow-fewer', action='store_true',
                        help='warn and keep what exists when a class has '
                        'fewer instances than K, instead of failing')
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds must be distinct, got {args.seeds}')
    return parser, args


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    try:
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
