# Base training on the toy shape-combination set (issue 13, item 5): 72
# classes, every colour x shape of the toy generator (categories='combos72'),
# 60 base / 12 novel. A novel class shares its shape, colour and texture with
# base classes, never the combination, so 60 base classes teach a matching
# that must combine them. The pairs, pipelines, schedule and test are those
# of the toy shapes benchmark (./fsod_toy-shapes_base-training.py); more
# images (600 / 100), as each class has fewer instances per image.
#   python tools/data/generate_toy_shapes.py --out data/toy_combos --categories combos72 \
#       --num-train 600 --num-val 100
#   python tools/data/prepare_few_shot_split.py \
#       --ann data/toy_combos/annotations/instances_train.json --seeds 0 --shots 5 10 \
#       --out data/toy_combos/few_shot_ann
_base_ = ['./fsod_toy-shapes_base-training.py']

data_root = 'data/toy_combos/'
toy_generate = dict(num_train=600, num_val=100, seed=0, categories='combos72')
# The split is data (mmfsod.utils.toy_shapes.TOY_SHAPE_COMBOS_NOVEL holds the
# same 12 novel names); ALL_CLASSES is BASE_CLASSES + NOVEL_CLASSES.
# _delete_: the toy shapes split is replaced, not merged.
toy_class_splits = dict(
    _delete_=True,
    BASE_CLASSES=('green_circle', 'blue_circle', 'yellow_circle', 'magenta_circle',
                  'cyan_circle', 'red_square', 'green_square', 'blue_square',
                  'yellow_square', 'magenta_square', 'red_triangle', 'green_triangle',
                  'blue_triangle', 'yellow_triangle', 'cyan_triangle', 'red_star',
                  'green_star', 'blue_star', 'magenta_star', 'cyan_star', 'red_cross',
                  'green_cross', 'yellow_cross', 'magenta_cross', 'cyan_cross',
                  'red_diamond', 'blue_diamond', 'yellow_diamond', 'magenta_diamond',
                  'cyan_diamond', 'green_ring', 'blue_ring', 'yellow_ring',
                  'magenta_ring', 'cyan_ring', 'red_hexagon', 'green_hexagon',
                  'blue_hexagon', 'yellow_hexagon', 'magenta_hexagon', 'red_crescent',
                  'green_crescent', 'blue_crescent', 'yellow_crescent',
                  'cyan_crescent', 'red_arrow', 'green_arrow', 'blue_arrow',
                  'magenta_arrow', 'cyan_arrow', 'red_ellipse', 'green_ellipse',
                  'yellow_ellipse', 'magenta_ellipse', 'cyan_ellipse', 'red_lshape',
                  'blue_lshape', 'yellow_lshape', 'magenta_lshape', 'cyan_lshape'),
    NOVEL_CLASSES=('red_circle', 'cyan_square', 'magenta_triangle', 'yellow_star',
                   'blue_cross', 'green_diamond', 'red_ring', 'cyan_hexagon',
                   'magenta_crescent', 'yellow_arrow', 'blue_ellipse', 'green_lshape'))

train_dataloader = dict(dataset=dict(dataset=dict(
    data_root=data_root, generate=toy_generate, class_splits=toy_class_splits)))
val_dataloader = dict(dataset=dict(
    data_root=data_root, generate=toy_generate, class_splits=toy_class_splits))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json',
                     class_groups=dict(base=toy_class_splits['BASE_CLASSES']))
test_evaluator = val_evaluator
