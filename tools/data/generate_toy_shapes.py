"""Generate the toy shapes detection set (COCO format) used by the demo and
the tests.

    python tools/data/generate_toy_shapes.py --out data/toy_shapes
    python tools/data/generate_toy_shapes.py --out /tmp/t --num-train 20 --seed 3

The same arguments always write byte-identical files; an existing set with the
same arguments is kept. See mmfsod/utils/toy_shapes.py for what is drawn.
"""
import argparse
import sys
import time
from dataclasses import fields

from mmfsod.utils.toy_shapes import (TOY_SHAPES_CLASSES, ToyShapesSpec,
                                     generate_toy_shapes)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/toy_shapes', help='output directory')
    for f in fields(ToyShapesSpec):
        if f.name == 'version':
            continue
        parser.add_argument('--' + f.name.replace('_', '-'), type=type(f.default),
                            default=f.default, help=f'(default: {f.default})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a set generated with other arguments')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    spec_args = {f.name: getattr(args, f.name) for f in fields(ToyShapesSpec)
                 if f.name != 'version'}
    start = time.time()
    try:
        spec = ToyShapesSpec(**spec_args)
        status = generate_toy_shapes(args.out, spec, overwrite=args.overwrite)
    except ValueError as exc:
        parser.error(str(exc))
    verb = 'kept existing' if status == 'exists' else 'generated'
    print(f'{verb} toy shapes set in {args.out}: {spec.num_train} train / '
          f'{spec.num_val} val images, {len(TOY_SHAPES_CLASSES)} categories, '
          f'seed {spec.seed} ({time.time() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
