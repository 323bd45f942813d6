"""Tests of the TFA-compatible K-shot split generator."""
import importlib.util
import json
import os
import os.path as osp
import random
from collections import Counter

import pytest

from mmfsod.detection.datasets.few_shot_split import (SPLIT_KEYS, TFA_SHOTS,
                                                      sample_few_shot_split,
                                                      split_file_name,
                                                      write_few_shot_splits)
from mmfsod.utils.toy_shapes import generate_toy_shapes

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOY_SHOTS = (1, 2, 3, 5)  # every toy class has at least 6 images


@pytest.fixture(scope='module')
def toy_ann(tmp_path_factory):
    """Path of a 40-image toy shapes train json (12 categories, no crowd)."""
    root = tmp_path_factory.mktemp('fss') / 'toy'
    generate_toy_shapes(str(root), num_train=40, num_val=2, min_size=128,
                        max_size=160, seed=0)
    return str(root / 'annotations' / 'instances_train.json')


@pytest.fixture(scope='module')
def toy_coco(toy_ann):
    with open(toy_ann) as f:
        return json.load(f)


def synthetic_coco(num_images: int = 300, seed: int = 0) -> dict:
    """A COCO-like dict: 5 categories listed out of id order, images with
    1-3 instances of one or two classes, some crowd boxes and some empty
    images."""
    rng = random.Random(seed)
    cat_ids = [7, 2, 11, 4, 9]
    images, anns = [], []
    for img_id in range(1, num_images + 1):
        images.append(dict(id=img_id * 10, file_name=f'{img_id}.jpg',
                           height=100, width=100))
        if img_id % 17 == 0:
            continue  # an image without annotations
        for cat_id in rng.sample(cat_ids, rng.choice([1, 1, 2])):
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                anns.append(dict(id=len(anns) + 1, image_id=img_id * 10,
                                 category_id=cat_id, bbox=[1, 2, 10, 10],
                                 area=100, iscrowd=0))
            if rng.random() < 0.1:
                anns.append(dict(id=len(anns) + 1, image_id=img_id * 10,
                                 category_id=cat_id, bbox=[0, 0, 50, 50],
                                 area=2500, iscrowd=1))
    rng.shuffle(anns)  # candidate order follows annotation order
    return dict(info=dict(description='synthetic'), licenses=[dict(id=1)],
                images=images, annotations=anns,
                categories=[dict(id=i, name=f'class{i}') for i in cat_ids])


def tfa_reference(coco: dict, seed: int, shots=TFA_SHOTS) -> dict:
    """TFA's selection restated directly, with the global ``random`` module
    as TFA uses it: {(category id, K): (image ids, annotation ids)}."""
    per_cat = {c['id']: [] for c in coco['categories']}
    for ann in coco['annotations']:
        if ann['iscrowd'] != 1:
            per_cat[ann['category_id']].append(ann)
    state = random.getstate()
    random.seed(seed)
    out = {}
    try:
        for cat_id in sorted(per_cat):
            by_img = {}
            for ann in per_cat[cat_id]:
                by_img.setdefault(ann['image_id'], []).append(ann)
            taken, img_ids = [], []
            for k in shots:
                tries = 0
                while len(taken) != k:  # TFA: `while True`, one draw at least
                    tries += 1
                    assert tries < 10000, 'TFA would not terminate'
                    for img in random.sample(list(by_img.keys()), k):
                        if img in [a['image_id'] for a in taken]:
                            continue
                        if len(taken) + len(by_img[img]) > k:
                            continue
                        taken += by_img[img]
                        img_ids.append(img)
                        if len(taken) == k:
                            break
                out[cat_id, k] = (list(img_ids), [a['id'] for a in taken])
    finally:
        random.setstate(state)
    return out


def ids(split: dict, shot: int, name: str):
    """(image ids, annotation ids) of one class and shot of a split."""
    sel = split[shot][name]
    return [i['id'] for i in sel['images']], [a['id'] for a in sel['annotations']]


@pytest.mark.parametrize('seed', [0, 1, 5, 42])
def test_matches_tfa_reference(seed):
    coco = synthetic_coco()
    ref = tfa_reference(coco, seed)
    split = sample_few_shot_split(coco, seed)
    assert list(split) == list(TFA_SHOTS)
    assert list(split[1]) == ['class2', 'class4', 'class7', 'class9', 'class11']
    for (cat_id, k), expected in ref.items():
        assert ids(split, k, f'class{cat_id}') == expected


def test_class_subset_keeps_tfa_stream():
    coco = synthetic_coco()
    full = sample_few_shot_split(coco, 3)
    part = sample_few_shot_split(coco, 3, classes=['class9', 'class4'])
    assert list(part[30]) == ['class4', 'class9']
    for k in TFA_SHOTS:
        for name in ('class4', 'class9'):
            assert ids(part, k, name) == ids(full, k, name)


def test_crowd_boxes_are_never_selected():
    coco = synthetic_coco()
    crowd_ids = {a['id'] for a in coco['annotations'] if a['iscrowd'] == 1}
    assert crowd_ids
    for seed in range(3):
        split = sample_few_shot_split(coco, seed)
        for per_class in split.values():
            for sel in per_class.values():
                assert not crowd_ids & {a['id'] for a in sel['annotations']}


def test_nesting_and_exact_counts(toy_coco):
    by_img = Counter((a['category_id'], a['image_id'])
                     for a in toy_coco['annotations'])
    name_to_id = {c['name']: c['id'] for c in toy_coco['categories']}
    for seed in range(5):
        split = sample_few_shot_split(toy_coco, seed, TOY_SHOTS)
        for name, cat_id in name_to_id.items():
            for small, large in zip(TOY_SHOTS, TOY_SHOTS[1:]):
                small_imgs, small_anns = ids(split, small, name)
                large_imgs, large_anns = ids(split, large, name)
                assert set(small_anns) <= set(large_anns)
                assert set(small_imgs) <= set(large_imgs)
            for k in TOY_SHOTS:
                sel = split[k][name]
                assert len(sel['annotations']) == k
                assert all(a['category_id'] == cat_id for a in sel['annotations'])
                img_ids = [i['id'] for i in sel['images']]
                assert len(set(img_ids)) == len(img_ids)
                # every selected image brings all its instances of the class
                assert sum(by_img[cat_id, i] for i in img_ids) == k
                assert {a['image_id'] for a in sel['annotations']} == set(img_ids)


def _read_tree(root: str) -> dict:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


def test_same_seed_same_files_other_seed_differs(toy_ann, tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    write_few_shot_splits(toy_ann, a, [0, 1], TOY_SHOTS)
    write_few_shot_splits(toy_ann, b, [0, 1], TOY_SHOTS)
    tree_a = _read_tree(a)
    assert len(tree_a) == 2 * len(TOY_SHOTS) * 12
    assert tree_a == _read_tree(b)
    seed0 = {k: v for k, v in tree_a.items() if not k.startswith('seed1')}
    seed1 = {k[len('seed1/'):]: v for k, v in tree_a.items()
             if k.startswith('seed1')}
    assert seed0.keys() == seed1.keys()
    assert seed0 != seed1
    # the files hold what sample_few_shot_split selects
    sel = sample_few_shot_split(json.loads(_read(toy_ann)), 1, TOY_SHOTS)
    name = sorted(sel[5])[0]
    data = json.loads(tree_a[osp.join('seed1', split_file_name(5, name))])
    assert data['annotations'] == sel[5][name]['annotations']
    assert data['images'] == sel[5][name]['images']


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _counts(coco: dict, name: str):
    """(non-crowd instances, images holding one) of a class."""
    cat_id = next(c['id'] for c in coco['categories'] if c['name'] == name)
    anns = [a for a in coco['annotations']
            if a['category_id'] == cat_id and a['iscrowd'] != 1]
    return len(anns), len({a['image_id'] for a in anns})


def test_too_few_instances_raises_and_allow_fewer_warns(toy_coco):
    shots = (1, 2, 10)
    short = [c['name'] for c in toy_coco['categories']
             if min(_counts(toy_coco, c['name'])) < 10]
    assert short
    name = short[0]
    num_anns, num_imgs = _counts(toy_coco, name)
    with pytest.raises(ValueError) as err:
        sample_few_shot_split(toy_coco, 0, shots)
    msg = str(err.value)
    assert f"'{name}' has {num_anns} instances in {num_imgs} images" in msg
    assert all(n in msg for n in short)

    with pytest.warns(UserWarning, match=name):
        split = sample_few_shot_split(toy_coco, 0, shots, classes=[name],
                                      allow_fewer=True)
    assert [len(split[k][name]['annotations']) for k in (1, 2)] == [1, 2]
    if num_anns < 10:  # every image fits: all of them are taken
        assert len(split[10][name]['annotations']) == num_anns
        assert len(split[10][name]['images']) == num_imgs


def test_stuck_selection_raises_or_keeps_what_fits():
    # The 1-shot must take image 1; the 2-shot then needs one more instance
    # but images 2 and 3 hold two each: TFA would loop forever.
    anns = [dict(id=i + 1, image_id=img, category_id=1, iscrowd=0)
            for i, img in enumerate([1, 2, 2, 3, 3])]
    coco = dict(images=[dict(id=i) for i in (1, 2, 3)], annotations=anns,
                categories=[dict(id=1, name='a')])
    with pytest.raises(ValueError, match="'a'.*1 for 2-shot.*loop forever"):
        sample_few_shot_split(coco, 0, (1, 2, 3))
    with pytest.warns(UserWarning, match="'a'.*1 for 2-shot"):
        split = sample_few_shot_split(coco, 0, (1, 2, 3), allow_fewer=True)
    assert [len(split[k]['a']['annotations']) for k in (1, 2, 3)] == [1, 1, 3]


@pytest.mark.parametrize('shots', [[0], [2.0], [True], [], [3, -1]])
def test_bad_shots(toy_coco, shots):
    with pytest.raises(ValueError, match='positive integers'):
        sample_few_shot_split(toy_coco, 0, shots)


def test_unknown_class_and_missing_file(toy_coco, tmp_path):
    with pytest.raises(ValueError) as err:
        sample_few_shot_split(toy_coco, 0, TOY_SHOTS, classes=['no_such'])
    assert 'no_such' in str(err.value) and 'red_circle' in str(err.value)
    missing = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        write_few_shot_splits(missing, str(tmp_path / 'out'), [0])


def _cli():
    path = osp.join(REPO, 'tools', 'data', 'prepare_few_shot_split.py')
    spec = importlib.util.spec_from_file_location('prepare_few_shot_split', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_tfa_files(toy_ann, toy_coco, tmp_path, capsys):
    out = str(tmp_path / 'cocosplit')
    assert _cli().main(['--ann', toy_ann, '--seeds', '0', '3', '--shots', '2',
                        '1', '--out', out]) == 0
    printed = capsys.readouterr().out
    assert 'seed 0: wrote 24 files' in printed and 'seed 3: wrote 24' in printed
    names = [c['name'] for c in toy_coco['categories']]
    expected = {split_file_name(k, n) for k in (1, 2) for n in names}
    assert 'full_box_1shot_red_circle_trainval.json' in expected
    assert set(os.listdir(out)) == expected | {'seed3'}
    assert set(os.listdir(osp.join(out, 'seed3'))) == expected
    for folder in (out, osp.join(out, 'seed3')):
        for name in expected:
            with open(osp.join(folder, name)) as f:
                data = json.load(f)
            assert tuple(data) == SPLIT_KEYS
            assert data['info'] == toy_coco['info']
            assert data['licenses'] == []  # the toy json has none
            assert data['categories'] == toy_coco['categories']


@pytest.mark.parametrize('argv, message', [
    (['--ann', '{tmp}/missing.json'], 'annotation file not found: {tmp}/missing'),
    (['--shots', '0'], 'a shot must be an integer >= 1'),
    (['--classes', 'no_such'], 'no_such'),
    (['--shots', '10'], 'too few'),
])
def test_cli_errors_exit_2(toy_ann, tmp_path, capsys, argv, message):
    args = ['--ann', toy_ann, '--seeds', '0', '--out', str(tmp_path / 'o')]
    args += [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as err:
        _cli().main(args)
    assert err.value.code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
