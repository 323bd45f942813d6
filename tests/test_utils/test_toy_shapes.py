import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest

from conftest import run_tool
from mmfsod.utils.toy_shapes import (TOY_SHAPES_CATEGORIES, ToyShapesSpec,
                                     draw_toy_image, generate_toy_shapes)

SMALL = dict(num_train=5, num_val=3, min_size=128, max_size=192, seed=7)


def _digest(root):
    """sha256 of every file under root, by relative path."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_same_seed_identical_bytes(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    assert generate_toy_shapes(str(a), **SMALL) == 'generated'
    assert generate_toy_shapes(str(b), **SMALL) == 'generated'
    da, db = _digest(a), _digest(b)
    assert len(da) == SMALL['num_train'] + SMALL['num_val'] + 2
    assert da == db
    # a second call on the same directory keeps it
    assert generate_toy_shapes(str(a), **SMALL) == 'exists'
    assert _digest(a) == da


def test_other_seed_differs_and_more_images_extend(tmp_path):
    base = draw_toy_image(ToyShapesSpec(**SMALL), 'train', 2)
    other = draw_toy_image(ToyShapesSpec(**dict(SMALL, seed=8)), 'train', 2)
    assert base[0].shape != other[0].shape or not np.array_equal(base[0], other[0])
    more = draw_toy_image(ToyShapesSpec(**dict(SMALL, num_train=50)), 'train', 2)
    assert np.array_equal(base[0], more[0]) and base[1] == more[1]


def test_coco_content(tmp_path):
    spec = dict(SMALL, num_train=30)
    generate_toy_shapes(str(tmp_path / 't'), **spec)
    coco = json.load(open(tmp_path / 't' / 'annotations' / 'instances_train.json'))
    assert len(coco['categories']) == len(TOY_SHAPES_CATEGORIES) >= 12
    assert len({(s, tuple(c)) for _, s, c, _ in TOY_SHAPES_CATEGORIES}) == 12
    assert len(coco['images']) == 30
    sizes = {(im['width'], im['height']) for im in coco['images']}
    assert all(128 <= w <= 192 and 128 <= h <= 192 for w, h in sizes)
    per_image = {}
    for ann in coco['annotations']:
        im = coco['images'][ann['image_id'] - 1]
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= im['width'] and y + h <= im['height']
        assert w >= 6 and h >= 6 and 0 < ann['area'] <= w * h
        assert ann['iscrowd'] == 0
        per_image.setdefault(ann['image_id'], []).append(max(w, h))
    # several objects per image, at several scales
    assert np.mean([len(v) for v in per_image.values()]) >= 2
    assert max(max(v) / min(v) for v in per_image.values()) > 2
    assert len({a['category_id'] for a in coco['annotations']}) >= 10


def test_objects_drawn_in_their_colour(tmp_path):
    spec = ToyShapesSpec(**SMALL)
    img, objects = draw_toy_image(spec, 'val', 0)
    assert img.dtype == np.uint8 and img.ndim == 3
    for obj in objects:
        x1, y1, x2, y2 = obj['bbox']
        colour = np.asarray(TOY_SHAPES_CATEGORIES[obj['category']][2], float)
        patch = img[y1:y2, x1:x2].reshape(-1, 3).astype(float)
        # some pixels of the box are close to the category colour
        close = np.linalg.norm(patch - colour, axis=1) < 60
        assert close.mean() > 0.1, TOY_SHAPES_CATEGORIES[obj['category']][0]


@pytest.mark.parametrize('bad, message', [
    (dict(num_train=0), 'num_train must be >= 1'),
    (dict(seed=-1), 'seed must be >= 0'),
    (dict(min_size=300, max_size=200), 'min_size <= max_size'),
    (dict(min_objects=4, max_objects=2), 'min_objects <= max_objects'),
    (dict(num_val=2.5), 'num_val must be an integer'),
    (dict(min_scale=0.01), 'smallest recognisable object'),
])
def test_bad_arguments(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        generate_toy_shapes(str(tmp_path / 'x'), **dict(SMALL, **bad))
    assert not (tmp_path / 'x').exists()


def test_unknown_argument_and_conflicting_existing_set(tmp_path):
    with pytest.raises(ValueError, match='unknown argument'):
        generate_toy_shapes(str(tmp_path / 'x'), num_images=3)
    generate_toy_shapes(str(tmp_path / 'x'), **SMALL)
    with pytest.raises(ValueError, match="was generated with .*'seed': 7"):
        generate_toy_shapes(str(tmp_path / 'x'), **dict(SMALL, seed=1))
    assert generate_toy_shapes(str(tmp_path / 'x'), overwrite=True,
                               **dict(SMALL, seed=1)) == 'generated'
    (tmp_path / 'junk').mkdir()
    (tmp_path / 'junk' / 'file.txt').write_text('x')
    with pytest.raises(ValueError, match='not a complete toy shapes set'):
        generate_toy_shapes(str(tmp_path / 'junk'), **SMALL)


def test_cli(tmp_path):
    out = tmp_path / 'cli'
    proc = run_tool(['tools/data/generate_toy_shapes.py', '--out', str(out),
                     '--num-train', '3', '--num-val', '2', '--min-size', '128',
                     '--max-size', '140'])
    assert proc.returncode == 0, proc.stdout
    assert 'generated toy shapes set' in proc.stdout
    assert len(os.listdir(out / 'train')) == 3
    proc = run_tool(['tools/data/generate_toy_shapes.py', '--out', str(tmp_path / 'b'),
                     '--num-train', '-2'])
    assert proc.returncode == 2
    assert 'num_train must be >= 1, got -2' in proc.stdout


def test_shape_combinations_variant_and_its_split(tmp_path):
    """categories='combos72': 72 colour x shape classes; each novel class's
    shape and colour are in base classes, never the combination; the
    config's split is the module's; the default set's files do not change
    (no categories key in its info)."""
    from mmengine.config import Config

    from conftest import REPO
    from mmfsod.utils.toy_shapes import (TOY_SHAPE_COMBOS_CATEGORIES,
                                         TOY_SHAPE_COMBOS_NOVEL, read_spec)
    names = [c[0] for c in TOY_SHAPE_COMBOS_CATEGORIES]
    assert len(set(names)) == 72 == len({(c[1], c[2]) for c in TOY_SHAPE_COMBOS_CATEGORIES})
    novel = set(TOY_SHAPE_COMBOS_NOVEL)
    assert len(novel) == 12
    base = [c for c in TOY_SHAPE_COMBOS_CATEGORIES if c[0] not in novel]
    for name, shape, colour, texture in TOY_SHAPE_COMBOS_CATEGORIES:
        if name in novel:
            assert any(b[1] == shape for b in base) and any(b[2] == colour for b in base)
            assert any(b[3] == texture for b in base)
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets',
                                   'fsod_toy-combos_base-training.py'))
    assert set(cfg.toy_class_splits['NOVEL_CLASSES']) == novel
    assert set(cfg.toy_class_splits['BASE_CLASSES']) == set(names) - novel

    generate_toy_shapes(str(tmp_path / 'c'), **dict(SMALL, categories='combos72'))
    coco = json.load(open(tmp_path / 'c' / 'annotations' / 'instances_train.json'))
    assert [c['name'] for c in coco['categories']] == names
    assert coco['info']['categories'] == 'combos72'
    assert read_spec(str(tmp_path / 'c')) == ToyShapesSpec(**SMALL, categories='combos72')
    img, objects = draw_toy_image(ToyShapesSpec(**SMALL, categories='combos72'), 'val', 0)
    for obj in objects:  # drawn in the combination's colour
        x1, y1, x2, y2 = obj['bbox']
        colour = np.asarray(TOY_SHAPE_COMBOS_CATEGORIES[obj['category']][2], float)
        patch = img[y1:y2, x1:x2].reshape(-1, 3).astype(float)
        assert (np.linalg.norm(patch - colour, axis=1) < 60).mean() > 0.1
    generate_toy_shapes(str(tmp_path / 'd'), **SMALL)
    coco = json.load(open(tmp_path / 'd' / 'annotations' / 'instances_train.json'))
    assert 'categories' not in coco['info']
    with pytest.raises(ValueError, match="categories must be one of"):
        generate_toy_shapes(str(tmp_path / 'e'), **dict(SMALL, categories='toy'))
