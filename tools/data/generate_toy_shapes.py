"""Generate the toy shapes detection set (COCO format) used by the demo and
the tests.

    python tools/data/generate_toy_shapes.py --out data/toy_shapes
    python tools/data/generate_toy_shapes.py --out /tmp/t --num-train 20 --seed 3
    # 72 colour x shape classes (12 held out as novel: TOY_SHAPE_COMBOS_NOVEL)
    python tools/data/generate_toy_shapes.py --out data/toy_combos --categories combos72 \
        --num-train 600 --num-val 100

The same arguments always write byte-identical files; an existing set with the
same arguments is kept. See mmfsod/utils/toy_shapes.py for what is drawn.
"""
import os.path as osp
import sys

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.utils.generated_set import generator_cli  # noqa: E402
from mmfsod.utils.toy_shapes import (CATEGORY_SETS,  # noqa: E402
                                     ToyShapesSpec, generate_toy_shapes)


def main(argv=None):
    return generator_cli(
        argv, ToyShapesSpec, generate_toy_shapes, 'data/toy_shapes',
        __doc__.split('\n\n')[0],
        lambda s: (f'toy shapes set: {s.num_train} train / {s.num_val} val images, '
                   f'{len(CATEGORY_SETS[s.categories])} categories, seed {s.seed}'))


if __name__ == '__main__':
    sys.exit(main())
