"""tools/misc/check_dataset.py (and print_config.py --check-data) on a user's
COCO-format set made here (non-consecutive category ids, images in
subfolders, 4 base and 2 novel classes, K-shot files), and the one-line data
errors of tools/train.py."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import pytest

from conftest import REPO, TINY_DET_CONFIG, run_tool

# (name, category id): base classes first, then novel
CLASSES = (('alpha', 11), ('bravo', 5), ('seven', 23), ('two', 2), ('kilo', 40),
           ('nine', 17))
BASE, NOVEL = tuple(n for n, _ in CLASSES[:4]), tuple(n for n, _ in CLASSES[4:])

CONFIG = """
default_scope = 'mmdet'
custom_imports = dict(imports=['mmfsod.detection'], allow_failed_imports=False)
data_root = {root!r}
base_classes = {base!r}
novel_classes = {novel!r}
class_splits = dict(ALL_CLASSES=base_classes + novel_classes, BASE_CLASSES=base_classes,
                    NOVEL_CLASSES=novel_classes)
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs')]
support_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CropSupportInstance'), dict(type='Resize', scale=(32, 32), keep_ratio=True),
    dict(type='Pad', size=(32, 32)), dict(type='PackDetInputs')]
coco = dict(type='FewShotCocoDataset', data_root=data_root, data_prefix=dict(img='images/'),
            class_splits=class_splits, pipeline=pipeline)
train_dataloader = dict(batch_size=2, dataset=dict(
    type='QuerySupportDataset', num_support_ways=2, num_support_shots=2,
    support_pipeline=support_pipeline,
    dataset=dict(coco, ann_file='annotations/train.json', classes='BASE_CLASSES',
                 filter_cfg=dict(filter_empty_gt=True))))
val_dataloader = dict(batch_size=1, dataset=dict(coco, ann_file='annotations/val.json',
                                                 classes='ALL_CLASSES', test_mode=True))
test_dataloader = val_dataloader
fine_tune_dataset = dict(
    type='QuerySupportDataset', num_support_ways=2, num_support_shots=None,
    support_pipeline=support_pipeline,
    dataset=dict(coco, ann_file='', few_shot_ann=dict(root='few_shot_ann/', shot=2, seed=0),
                 classes='ALL_CLASSES'))
"""


def write_user_set(root: str) -> None:
    """A generated toy set as a user's data: its 12 shapes folded into the 6
    CLASSES (shapes 0-9 into the 4 base classes, i % 4, shapes 10 and 11 are
    the novel ones; 4 to 6 objects an image, so many images show all 4 base
    classes), ``images/{train,val}/``, ``annotations/``,
    and the 2-shot files of seed 0 under ``few_shot_ann/``."""
    from mmfsod.detection.datasets.few_shot_split import write_few_shot_splits
    from mmfsod.utils.toy_shapes import generate_toy_shapes
    src = osp.join(root, 'generated')
    generate_toy_shapes(src, num_train=10, num_val=3, min_size=96, max_size=112,
                        min_objects=4, max_objects=6, min_scale=0.15, max_scale=0.3, seed=2)
    os.makedirs(osp.join(root, 'annotations'))
    for split in ('train', 'val'):
        with open(osp.join(src, 'annotations', f'instances_{split}.json')) as f:
            coco = json.load(f)
        coco['categories'] = [dict(id=cid, name=name) for name, cid in CLASSES]
        for ann in coco['annotations']:
            shape = ann['category_id'] - 1
            ann['category_id'] = CLASSES[shape % 4 if shape < 10 else shape - 6][1]
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(coco, f)
        shutil.copytree(osp.join(src, split), osp.join(root, 'images', split))
    shutil.rmtree(src)
    write_few_shot_splits(osp.join(root, 'annotations', 'train.json'),
                          osp.join(root, 'few_shot_ann'), seeds=[0], shots=[2])


@pytest.fixture(scope='module')
def user_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('user') / 'my_dataset') + '/'
    write_user_set(root)
    return root


def write_config(folder, root, base=BASE, novel=NOVEL) -> str:
    path = osp.join(str(folder), 'my_config.py')
    with open(path, 'w') as f:
        f.write(CONFIG.format(root=root, base=base, novel=novel))
    return path


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', osp.join(REPO, 'tools', 'misc', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def problems(out: str):
    return [line for line in out.splitlines() if line.startswith('problem: ')]


def test_good_config_passes(user_set, tmp_path):
    config = write_config(tmp_path, user_set)
    res = run_tool(['tools/misc/check_dataset.py', config], timeout=300)
    assert res.returncode == 0, res.stdout[-3000:]
    out = res.stdout
    assert not problems(out)
    assert out.rstrip().splitlines()[-1] == f'{config}: the data is usable'
    train = next(line for line in out.splitlines()
                 if line.startswith('train_dataloader.dataset.dataset '))
    assert '10 images' in train and '4 classes: alpha (' in train
    pairs = next(line for line in out.splitlines()
                 if line.startswith('train_dataloader.dataset (QuerySupportDataset)'))
    assert '2-way 2-shot pairs: 10 query images x 1 round(s) = 10 items' in pairs
    fewer = int(pairs.split('; ')[1].split(' images need the fewer-ways rule')[0])
    assert fewer > 0  # the images that need the fewer-ways rule are counted
    assert 'test_dataloader.dataset: the same as val_dataloader.dataset' in out
    assert any(line.startswith('fine_tune_dataset (QuerySupportDataset): 2-way 2-shot')
               for line in out.splitlines())


@pytest.mark.parametrize('case', ['class', 'image', 'kshot', 'novel_class'])
def test_problems_one_line_each(user_set, tmp_path, capsys, case):
    root = str(tmp_path / 'data') + '/'
    shutil.copytree(user_set, root)
    base, novel = BASE, NOVEL
    if case == 'class':
        base = ('alpha', 'bravo', 'sevn', 'two')
    elif case == 'image':
        os.remove(osp.join(root, 'images', 'val', '000001.jpg'))
    elif case == 'kshot':
        os.remove(osp.join(root, 'few_shot_ann', 'full_box_2shot_kilo_trainval.json'))
    else:
        novel = ('kilo', 'november')
    config = write_config(tmp_path, root, base, novel)
    code = load_tool('check_dataset').main([config])
    out = capsys.readouterr().out
    assert code == 1
    found = problems(out)
    if case == 'class':  # the train, val and fine-tuning datasets name it
        assert found and all("class 'sevn' is not a category of" in p for p in found)
        assert any(p.startswith('problem: train_dataloader.dataset.dataset.classes: ')
                   and 'annotations/train.json' in p and "'alpha'" in p for p in found)
        assert any('annotations/val.json' in p for p in found)
    elif case == 'image':
        missing = osp.join(root, 'images', 'val', '000001.jpg')
        assert found == [f'problem: val_dataloader.dataset.data_prefix: image not found: '
                         f'{missing} (an image of {root}annotations/val.json)']
    elif case == 'kshot':
        assert len(found) == 1 and found[0].startswith(
            'problem: fine_tune_dataset.dataset.few_shot_ann: ')
        assert 'K-shot file not found' in found[0]
        assert 'full_box_2shot_kilo_trainval.json' in found[0]
    else:  # a novel class not in the json: said so, not "K-shot file not found"
        kshot = [p for p in found if 'fine_tune_dataset' in p]
        assert len(kshot) == 1 and kshot[0].startswith(
            "problem: fine_tune_dataset.dataset.classes: FewShotCocoDataset: class "
            "'november' is not a category of the json the K-shot files in")
        assert 'K-shot file not found' not in kshot[0] and "'kilo'" in kshot[0]
    assert out.rstrip().splitlines()[-1] == f'{config}: {len(found)} data problem(s)'


def test_print_config_check_data(user_set, tmp_path, capsys):
    config = write_config(tmp_path, user_set, base=('alpha', 'bravo', 'seven', 'zulu'))
    code = load_tool('print_config').main([config, '--check-data'])
    out = capsys.readouterr().out
    assert code == 1
    assert any("class 'zulu' is not a category of" in p for p in problems(out))


def test_train_data_error_is_one_line(tiny_toy_root, tmp_path):
    """A class not in the json: one line naming the class and the json (the
    traceback with --debug)."""
    res = run_tool(['tools/train.py', TINY_DET_CONFIG, '--work-dir', str(tmp_path),
                    '--cfg-options', 'train_dataloader.dataset.classes=[red_circle,no_such]'],
                   timeout=300)
    assert res.returncode == 1, res.stdout[-3000:]
    assert 'Traceback' not in res.stdout
    last = res.stdout.rstrip().splitlines()[-1]
    assert last.startswith('error: ValueError: ToyShapesDataset: classes ')
    assert "'no_such'" in last and 'instances_train.json' in last
    assert '--debug' in last


def test_run_main_one_line_for_data_errors_only(capsys):
    from mmfsod.utils.tools import is_data_error, load_config, run_main

    def missing_config(argv):
        load_config('/no/such/config.py')

    with pytest.raises(SystemExit) as exit_:
        run_main(missing_config, [])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "error: FileNotFoundError: config file '/no/such/config.py' does not exist")
    with pytest.raises(FileNotFoundError):  # the traceback with --debug
        run_main(missing_config, ['--debug'])

    def bug(argv):
        raise ValueError('a bug of the model code')  # not raised in data code

    with pytest.raises(ValueError):
        run_main(bug, [])
    # re-raised from a dataloader worker: the worker's traceback decides
    worker = ValueError('Caught ValueError in DataLoader worker process 0.\nOriginal '
                        'Traceback (most recent call last):\n  File "/x/mmfsod/detection/'
                        'datasets/few_shot_coco.py", line 3, in f\n    raise ValueError\n'
                        'ValueError: FewShotCocoDataset: bad')
    assert is_data_error(worker)
    assert not is_data_error(ValueError(str(worker).replace('/mmfsod/detection/datasets',
                                                            '/mmfsod/detection/models')))
