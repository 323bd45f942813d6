"""Generate the toy shapes detection set (COCO format) used by the demo and
the tests.

    python tools/data/generate_toy_shapes.py --out data/toy_shapes
    python tools/data/generate_toy_shapes.py --out /tmp/t --num-train 20 --seed 3
    # 72 colour x shape classes (12 held out as novel: TOY_SHAPE_COMBOS_NOVEL)
    python tools/data/generate_toy_shapes.py --out data/toy_combos --categories combos72 \
        --num-train 600 --num-val 100
    # PASCAL VOC layout (VOC2007/{JPEGImages,Annotations,ImageSets/Main}), same images
    python tools/data/generate_toy_shapes.py --format voc --out data/toy_voc

The same arguments always write byte-identical files; an existing set with the
same arguments is kept. See mmfsod/utils/toy_shapes.py for what is drawn.
"""
import argparse
import os.path as osp
import sys

# Run from a checkout without installing: make `mmfsod` importable.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmfsod.utils.generated_set import generator_cli  # noqa: E402
from mmfsod.utils.toy_shapes import (CATEGORY_SETS,  # noqa: E402
                                     ToyShapesSpec, generate_toy_shapes)
from mmfsod.utils.toy_voc import generate_toy_voc  # noqa: E402


def main(argv=None):
    # --format picks the writer; every other option is the generator's
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--format', choices=('coco', 'voc'), default='coco')
    known, rest = pre.parse_known_args(argv)
    voc = known.format == 'voc'
    if '-h' in rest or '--help' in rest:
        print('--format {coco,voc}   COCO json (default) or the PASCAL VOC layout '
              '(see mmfsod/utils/toy_voc.py)')
    return generator_cli(
        rest, ToyShapesSpec, generate_toy_voc if voc else generate_toy_shapes,
        'data/toy_voc' if voc else 'data/toy_shapes', __doc__.split('\n\n')[0],
        lambda s: (f'toy shapes set{" (VOC)" if voc else ""}: {s.num_train} '
                   f'{"trainval" if voc else "train"} / {s.num_val} '
                   f'{"test" if voc else "val"} images, '
                   f'{len(CATEGORY_SETS[s.categories])} categories, seed {s.seed}'))


if __name__ == '__main__':
    sys.exit(main())
