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
import os.path as osp
import sys

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.utils.generated_set import generator_cli  # noqa: E402
from mmfsod.utils.toy_clutter import (ToyClutterSpec,  # noqa: E402
                                      generate_toy_clutter)


def main(argv=None):
    return generator_cli(
        argv, ToyClutterSpec, generate_toy_clutter, 'data/toy_clutter',
        __doc__.split('\n\n')[0],
        lambda s: (f'toy clutter set: {s.num_train} train / {s.num_val} val / '
                   f'{s.num_holdout} holdout images of '
                   f'{s.img_size} px, {s.num_classes} classes, seed {s.seed}'))


if __name__ == '__main__':
    sys.exit(main())
