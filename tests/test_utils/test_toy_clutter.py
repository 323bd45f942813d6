"""The toy clutter classification set generator (mmfsod/utils/toy_clutter.py)."""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest

from conftest import run_tool
from mmfsod.utils.toy_clutter import (CLASS_COLOURS,
                                      TOY_CLUTTER_CATEGORIES, TOY_CLUTTER_CLASSES,
                                      ToyClutterSpec, draw_clutter_image,
                                      generate_toy_clutter, read_spec)

SMALL = dict(num_train=8, num_val=6, img_size=96, min_scale=0.2, max_scale=0.4,
             seed=7)


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
    assert generate_toy_clutter(str(a), **SMALL) == 'generated'
    assert generate_toy_clutter(str(b), **SMALL) == 'generated'
    da, db = _digest(a), _digest(b)
    # images + {train,val}.txt + objects_{train,val}.json + classes.txt + spec.json
    assert len(da) == SMALL['num_train'] + SMALL['num_val'] + 6
    assert da == db
    # a second call on the same directory keeps it
    assert generate_toy_clutter(str(a), **SMALL) == 'exists'
    assert _digest(a) == da
    assert read_spec(str(a)) == ToyClutterSpec(**SMALL)


def test_layout_is_mmpretrain_custom_dataset(tmp_path):
    root = tmp_path / 't'
    generate_toy_clutter(str(root), **SMALL)
    classes = (root / 'meta' / 'classes.txt').read_text().split()
    assert tuple(classes) == TOY_CLUTTER_CLASSES == tuple(sorted(classes))
    assert sorted(os.listdir(root / 'train')) == classes
    for split, num in (('train', SMALL['num_train']), ('val', SMALL['num_val'])):
        lines = (root / 'meta' / f'{split}.txt').read_text().splitlines()
        assert len(lines) == num
        objects = json.load(open(root / 'meta' / f'objects_{split}.json'))['images']
        for idx, (line, obj) in enumerate(zip(lines, objects)):
            file_name, label = line.rsplit(' ', 1)
            assert file_name == f'{classes[int(label)]}/{idx:06d}.jpg' == obj['file']
            assert int(label) == idx % 6 == obj['label']
            assert (root / split / file_name).is_file()


def test_other_seed_differs_and_more_images_extend():
    spec = ToyClutterSpec(**SMALL)
    base = draw_clutter_image(spec, 'train', 2)
    other = draw_clutter_image(ToyClutterSpec(**dict(SMALL, seed=8)), 'train', 2)
    assert not np.array_equal(base[0], other[0])
    more = draw_clutter_image(ToyClutterSpec(**dict(SMALL, num_train=50)), 'train', 2)
    assert np.array_equal(base[0], more[0]) and base[1] == more[1]
    val = draw_clutter_image(spec, 'val', 2)
    assert not np.array_equal(base[0], val[0])


def _close(pixels, colour, tol=60):
    return np.linalg.norm(pixels.astype(float) - np.asarray(colour, float), axis=1) < tol


def test_labelled_object_present_and_distractors_are_no_class():
    spec = ToyClutterSpec(img_size=160, num_train=24, seed=3)
    class_pairs = {(s, c) for _, s, c in TOY_CLUTTER_CATEGORIES}
    scales, kinds = [], set()
    for idx in range(24):
        img, info = draw_clutter_image(spec, 'train', idx)
        assert img.shape == (160, 160, 3) and img.dtype == np.uint8
        name, shape, colour = TOY_CLUTTER_CATEGORIES[info['label']]
        assert info['label'] == idx % 6 and info['name'] == name
        x1, y1, x2, y2 = info['bbox']
        assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 160
        side = max(x2 - x1, y2 - y1)
        assert 0.15 * 160 * 0.6 <= side <= 0.35 * 160 + 1
        scales.append(side)
        # a good share of the box has the class colour ...
        inside = img[y1:y2, x1:x2].reshape(-1, 3)
        assert _close(inside, CLASS_COLOURS[colour]).mean() > 0.15, (idx, name)
        # ... no distractor is a class or overlaps the labelled object ...
        assert 3 <= len(info['distractors']) <= 6
        for d in info['distractors']:
            kinds.add(d['kind'])
            assert (d['shape'], d['colour']) not in class_pairs
            assert (d['colour'] in CLASS_COLOURS) == (d['kind'] != 'shape')
            dx1, dy1, dx2, dy2 = d['bbox']
            assert dx2 <= x1 or x2 <= dx1 or dy2 <= y1 or y2 <= dy1
            # the drawn box is the distractor's colour, not the label's
            if d['colour'] != colour:
                patch = img[dy1:dy2, dx1:dx2].reshape(-1, 3)
                assert not _close(patch, CLASS_COLOURS[colour], 40).mean() > 0.15
        # ... and every class colour shows exactly once: the label's is the label
        shown = sorted([colour] + [d['colour'] for d in info['distractors']
                                   if d['colour'] in CLASS_COLOURS])
        assert shown == sorted(CLASS_COLOURS), (idx, shown)
    assert max(scales) / min(scales) > 1.5  # several scales
    assert kinds == {'colour', 'shape', 'swap'}


def test_whole_image_colour_histogram_is_not_enough():
    """A linear classifier on whole-image colour histograms barely beats
    chance (1/6), while the same on the labelled object's box is far better:
    where the object is matters."""
    spec = ToyClutterSpec(img_size=96, min_scale=0.2, num_train=360, num_val=120)

    def features(split, n, crop):
        x, y = [], []
        for i in range(n):
            img, info = draw_clutter_image(spec, split, i)
            if crop:
                x1, y1, x2, y2 = info['bbox']
                img = img[y1:y2, x1:x2]
            q = (img // 64).astype(int).reshape(-1, 3)  # 4 levels a channel
            h = np.bincount(q[:, 0] * 16 + q[:, 1] * 4 + q[:, 2], minlength=64)
            x.append(np.sqrt(h / h.sum()))
            y.append(info['label'])
        return np.array(x), np.array(y)

    def accuracy(crop):
        xt, yt = features('train', 360, crop)
        xv, yv = features('val', 120, crop)
        w = np.linalg.solve(xt.T @ xt + 0.1 * np.eye(64), xt.T @ np.eye(6)[yt])
        return ((xv @ w).argmax(1) == yv).mean()

    whole, box = accuracy(False), accuracy(True)
    assert whole < 0.4 and box > 0.6 and box - whole > 0.3, (whole, box)


def test_fewer_classes():
    spec = ToyClutterSpec(**dict(SMALL, num_classes=3))
    assert spec.classes == TOY_CLUTTER_CLASSES[:3]
    labels = {draw_clutter_image(spec, 'val', i)[1]['label'] for i in range(6)}
    assert labels == {0, 1, 2}


@pytest.mark.parametrize('bad, message', [
    (dict(num_train=0), 'num_train must be >= num_classes'),
    (dict(num_val=3), 'num_val must be >= num_classes'),
    (dict(seed=-1), 'seed must be >= 0'),
    (dict(num_classes=7), r'num_classes must be in \[2, 6\]'),
    (dict(num_classes=1), 'num_classes must be in'),
    (dict(img_size=32), 'img_size must be in'),
    (dict(img_size=96.0), 'img_size must be an integer'),
    (dict(num_val=True), 'num_val must be an integer'),
    (dict(min_scale=0.4, max_scale=0.2), 'min_scale <= max_scale'),
    (dict(max_scale=0.8), 'max_scale <= 0.5'),
    (dict(min_scale='0.2'), 'min_scale must be a number'),
    (dict(min_scale=0.05), 'smallest recognisable object'),
    (dict(min_distractors=4, max_distractors=2), 'min_distractors <= max_distractors'),
    (dict(min_distractors=-1), '2 <= min_distractors'),
])
def test_bad_arguments(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        generate_toy_clutter(str(tmp_path / 'x'), **dict(SMALL, **bad))
    assert not (tmp_path / 'x').exists()


def test_unknown_argument_and_conflicting_existing_set(tmp_path):
    with pytest.raises(ValueError, match="unknown argument.*'num_images'"):
        generate_toy_clutter(str(tmp_path / 'x'), num_images=3)
    with pytest.raises(ValueError, match='either spec or keyword'):
        generate_toy_clutter(str(tmp_path / 'x'), ToyClutterSpec(), seed=1)
    generate_toy_clutter(str(tmp_path / 'x'), **SMALL)
    with pytest.raises(ValueError, match="was generated with .*'seed': 7.*'seed': 1"):
        generate_toy_clutter(str(tmp_path / 'x'), **dict(SMALL, seed=1))
    assert read_spec(str(tmp_path / 'x')).seed == 7  # left as it was
    assert generate_toy_clutter(str(tmp_path / 'x'), overwrite=True,
                                **dict(SMALL, seed=1)) == 'generated'
    assert read_spec(str(tmp_path / 'x')).seed == 1
    (tmp_path / 'junk').mkdir()
    (tmp_path / 'junk' / 'file.txt').write_text('x')
    with pytest.raises(ValueError, match='not a complete toy clutter set'):
        generate_toy_clutter(str(tmp_path / 'junk'), **SMALL)
    # no temporary directories left behind
    assert not [p for p in os.listdir(tmp_path) if p.startswith('.toy_clutter_tmp_')]


def test_cli(tmp_path):
    out = tmp_path / 'cli'
    proc = run_tool(['tools/data/generate_toy_clutter.py', '--out', str(out),
                     '--num-train', '6', '--num-val', '6', '--img-size', '80',
                     '--min-scale', '0.2', '--num-classes', '3'])
    assert proc.returncode == 0, proc.stdout
    assert 'generated toy clutter set' in proc.stdout and '3 classes' in proc.stdout
    assert sorted(os.listdir(out / 'train')) == list(TOY_CLUTTER_CLASSES[:3])
    assert read_spec(str(out)) == ToyClutterSpec(num_train=6, num_val=6, img_size=80,
                                                 min_scale=0.2, num_classes=3)
    proc = run_tool(['tools/data/generate_toy_clutter.py', '--out', str(out),
                     '--num-train', '6', '--num-val', '6', '--img-size', '80',
                     '--min-scale', '0.2', '--num-classes', '3'])
    assert proc.returncode == 0 and 'kept existing' in proc.stdout, proc.stdout
    proc = run_tool(['tools/data/generate_toy_clutter.py', '--out', str(tmp_path / 'b'),
                     '--img-size', '20'])
    assert proc.returncode == 2
    assert 'img_size must be in [64, 1024], got 20' in proc.stdout


def test_holdout_split_is_new_images_of_the_training_distribution(tmp_path):
    """num_holdout > 0 writes a third split whose images differ from every
    training and validation image; 0 writes none (the layout is unchanged)."""
    from mmfsod.utils.toy_clutter import generate_toy_clutter, read_spec
    spec = dict(SMALL, num_holdout=6)
    out = tmp_path / 'clutter'
    assert generate_toy_clutter(str(out), **spec) == 'generated'
    lines = (out / 'meta' / 'holdout.txt').read_text().splitlines()
    assert len(lines) == 6
    digest = {}
    for split in ('train', 'val', 'holdout'):
        for path in sorted((out / split).rglob('*.jpg')):
            digest.setdefault(path.read_bytes(), []).append(split)
    assert all(len(v) == 1 for v in digest.values())  # no image repeats
    assert read_spec(str(out)).num_holdout == 6
    plain = tmp_path / 'plain'
    generate_toy_clutter(str(plain), **SMALL)
    assert not (plain / 'holdout').exists()
    assert not (plain / 'meta' / 'holdout.txt').exists()
    with pytest.raises(ValueError, match='num_holdout must be >= 0'):
        generate_toy_clutter(str(tmp_path / 'bad'), **dict(SMALL, num_holdout=-1))
