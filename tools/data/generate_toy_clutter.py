"""Generate the toy clutter classification set (mmpretrain CustomDataset /
ImageNet layout) used by the toy AnchorNet configs and the tests.

    python tools/data/generate_toy_clutter.py --out data/toy_clutter
    python tools/data/generate_toy_clutter.py --out /tmp/t --num-train 60 --seed 3

Writes <out>/{train,val}/<class>/<index>.jpg, the lists <out>/meta/{train,val}.txt
("<class>/<index>.jpg <label>"), meta/classes.txt, meta/objects_{train,val}.json
(the labelled object's box per image) and meta/spec.json. The same arguments
always write byte-identical files; an existing set with the same arguments is
kept. See mmfsod/utils/toy_clutter.py for what is drawn.
"""
import argparse
import os.path as osp
import sys
import time
from dataclasses import fields

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.utils.toy_clutter import (ToyClutterSpec,  # noqa: E402
                                      generate_toy_clutter)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/toy_clutter', help='output directory')
    for f in fields(ToyClutterSpec):
        if f.name == 'version':
            continue
        parser.add_argument('--' + f.name.replace('_', '-'), type=type(f.default),
                            default=f.default, help=f'(default: {f.default})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a set generated with other arguments')
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    spec_args = {f.name: getattr(args, f.name) for f in fields(ToyClutterSpec)
                 if f.name != 'version'}
    start = time.time()
    try:
        spec = ToyClutterSpec(**spec_args)
        status = generate_toy_clutter(args.out, spec, overwrite=args.overwrite)
    except ValueError as exc:
        parser.error(str(exc))
    verb = 'kept existing' if status == 'exists' else 'generated'
    print(f'{verb} toy clutter set in {args.out}: {spec.num_train} train / '
          f'{spec.num_val} val images of {spec.img_size} px, {spec.num_classes} '
          f'classes, seed {spec.seed} ({time.time() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
