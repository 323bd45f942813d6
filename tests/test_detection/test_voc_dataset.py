"""FewShotVOCDataset: mmdet's VOC reading, several roots, TFA K-shot files,
difficult boxes, bad input; the toy set in VOC's layout."""
import importlib.util
import os.path as osp
from collections import Counter

import pytest
from conftest import REPO
from mmdet.datasets import VOCDataset
from voc_fixtures import CLASSES, two_roots, write_voc_root, xml_text

from mmfsod.detection.datasets import (FewShotVOCDataset, QuerySupportDataset,
                                       ToyShapesDataset, ToyShapesVOCDataset,
                                       write_voc_few_shot_splits)
from mmfsod.detection.datasets.voc_few_shot_sampler import index_voc_images

SPLIT = dict(BASE_CLASSES=('dog', 'cat'), NOVEL_CLASSES=('bird',))
SETS = ['VOC2007/ImageSets/Main/trainval.txt', 'VOC2012/ImageSets/Main/trainval.txt']


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    base = str(tmp_path_factory.mktemp('vocds'))
    two_roots(base)
    return base


def voc(base, **kwargs):
    kwargs.setdefault('ann_file', SETS)
    kwargs.setdefault('class_splits', SPLIT)
    return FewShotVOCDataset(data_root=base, pipeline=[], **kwargs)


def test_reads_roots_in_split_order_as_mmdet(base):
    ds = voc(base, classes='BASE_CLASSES')
    assert ds.metainfo['classes'] == ('dog', 'cat') and len(ds) == 40
    index = index_voc_images([osp.join(base, 'VOC2007'), osp.join(base, 'VOC2012')], CLASSES)
    counts = Counter()
    for per_class in index['counts'].values():
        counts.update(per_class)
    labels = Counter(i['bbox_label'] for k in range(len(ds))
                     for i in ds.get_data_info(k)['instances'])
    assert labels == {0: counts['dog'], 1: counts['cat']}  # the novel birds left out
    last = ds.get_data_info(39)
    assert last['voc_id'] == '2008_000016' and last['img_id'] == 2008000016
    assert last['img_path'] == osp.join(base, 'VOC2012', 'JPEGImages', '2008_000016.jpg')
    # the instances of mmdet's VOCDataset on the same root and classes
    ref = VOCDataset(data_root=osp.join(base, 'VOC2007'), ann_file='ImageSets/Main/trainval.txt',
                     data_prefix=dict(sub_data_root=''), metainfo=dict(classes=('dog', 'cat')),
                     pipeline=[], test_mode=True)
    for k in range(len(ref)):
        ours = ds.get_data_info(k)
        assert (ours['height'], ours['width']) == (80, 100)
        assert [{key: i[key] for key in ('bbox', 'bbox_label', 'ignore_flag')}
                for i in ours['instances']] == ref.get_data_info(k)['instances']
        assert all(i['ann_id'] // 1000 == ours['img_id'] for i in ours['instances'])


def test_difficult_is_ignored_unless_used(base):
    flags = {}
    for use in (False, True):
        ds = voc(base, classes='ALL_CLASSES', use_difficult=use)
        flags[use] = [(i['difficult'], i['ignore_flag']) for k in range(len(ds))
                      for i in ds.get_data_info(k)['instances']]
    assert any(d for d, _ in flags[False])
    assert all(d == ign for d, ign in flags[False])  # VOC's test protocol
    assert not any(ign for _, ign in flags[True])  # TFA's training


def test_k_shot_files_keep_the_sampled_class_only(base, tmp_path):
    xml = xml_text('VOC2007', 'x.jpg', [('cat', 0), ('dog', 0), ('dog', 1), ('cat', 0)])
    root = write_voc_root(str(tmp_path / 'VOC2007'), {'000001': [], '000002': []})
    with open(osp.join(root, 'Annotations', '000001.xml'), 'w') as f:
        f.write(xml)
    split = tmp_path / 'split' / 'seed4'
    split.mkdir(parents=True)
    # TFA's paths, a bare id, a repeated line (TFA's sampler writes them)
    (split / 'box_1shot_dog_train.txt').write_text('datasets/VOC2007/JPEGImages/000001.jpg\n')
    (split / 'box_1shot_cat_train.txt').write_text('000001\n000001\n')
    (split / 'box_1shot_bird_train.txt').write_text('\n')
    kwargs = dict(ann_file='VOC2007/ImageSets/Main/trainval.txt', classes='ALL_CLASSES',
                  few_shot_ann=dict(root='split', shot=1, seed=4), use_difficult=True)
    ds = voc(str(tmp_path), **kwargs)
    assert len(ds) == 1
    insts = ds.get_data_info(0)['instances']
    # one dog (of 2) and one cat (of 2): K boxes of each file's class
    assert sorted(i['bbox_label'] for i in insts) == [0, 1]
    again = voc(str(tmp_path), **kwargs).get_data_info(0)['instances']
    assert [i['ann_id'] for i in insts] == [i['ann_id'] for i in again]


@pytest.mark.parametrize('shot', [1, 3, 10])
def test_sampled_k_shot_sets(base, tmp_path, shot):
    roots = [osp.join(base, 'VOC2007'), osp.join(base, 'VOC2012')]
    write_voc_few_shot_splits(roots, str(tmp_path), [1], class_order=CLASSES)
    few_shot_ann = dict(root=str(tmp_path), shot=shot, seed=1)
    ds = voc(base, classes='ALL_CLASSES', few_shot_ann=few_shot_ann, use_difficult=True)
    per_class = Counter(i['bbox_label'] for k in range(len(ds))
                        for i in ds.get_data_info(k)['instances'])
    assert set(per_class) == {0, 1, 2} and max(per_class.values()) <= shot
    if shot == 1:
        assert set(per_class.values()) == {1}
    # fewer than K only where TFA's sampler listed an image twice (logged)
    assert ds.num_short_classes == {ds.metainfo['classes'][k]: n
                                    for k, n in per_class.items() if n < shot}
    # the query / support pairing runs on it unchanged, K from few_shot_ann
    pairs = QuerySupportDataset(ds, support_pipeline=[], num_support_ways=2,
                                num_support_shots=None)
    draw = pairs.sample_pair(0)
    assert pairs.num_support_shots == shot and len(draw['supports']) == 2 * shot


def _bad(path, text):
    with open(path, 'w') as f:
        f.write(text)


@pytest.mark.parametrize('case, error, message', [
    ('xml', ValueError, '000003.xml: not a valid VOC XML file'),
    ('class', ValueError, "000003.xml: class names ['zebra'] are not in the class list"),
    ('difficult', ValueError, '000003.xml: <object> 0 (cat) has <difficult>2</difficult>'),
    ('missing image', ValueError, "box_1shot_cat_train.txt: image 'datasets/VOC2007/"
     "JPEGImages/000099.jpg' is in no VOC root"),
    ('missing file', FileNotFoundError, 'K-shot file not found: {d}/split/box_1shot_cat'),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, case, error, message):
    root = write_voc_root(str(tmp_path / 'VOC2007'),
                          {f'{i:06d}': [('cat', 0), ('dog', 0)] for i in range(1, 5)})
    xml = osp.join(root, 'Annotations', '000003.xml')
    few_shot = None
    if case == 'xml':
        _bad(xml, '<annotation><object><name>cat</name></annotation>')
    elif case == 'class':
        _bad(xml, xml_text('VOC2007', '000003.jpg', [('zebra', 0)]))
    elif case == 'difficult':
        _bad(xml, xml_text('VOC2007', '000003.jpg', [('cat', 2)]))
    else:
        few_shot = dict(root='split', shot=1, seed=0)
        (tmp_path / 'split').mkdir()
        if case == 'missing image':
            (tmp_path / 'split' / 'box_1shot_cat_train.txt').write_text(
                'datasets/VOC2007/JPEGImages/000099.jpg\n')
    with pytest.raises(error) as err:
        voc(str(tmp_path), ann_file='VOC2007/ImageSets/Main/trainval.txt',
            classes=('cat',) if few_shot else 'ALL_CLASSES', few_shot_ann=few_shot)
    text = str(err.value).strip("'\"")
    assert message.format(d=tmp_path) in text and '\n' not in text


TINY = dict(num_train=6, num_val=4, min_size=128, max_size=160, seed=0)


def test_toy_voc_is_the_toy_set(tmp_path, capsys):
    path = osp.join(REPO, 'tools', 'data', 'generate_toy_shapes.py')
    spec = importlib.util.spec_from_file_location('generate_toy_shapes', path)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    args = ['--out', str(tmp_path / 'voc'), '--format', 'voc'] + [
        a for k, v in TINY.items() for a in (f'--{k.replace("_", "-")}', str(v))]
    assert cli.main(args) == 0
    assert 'toy shapes set (VOC): 6 trainval / 4 test images' in capsys.readouterr().out
    coco = ToyShapesDataset(data_root=str(tmp_path / 'coco'), generate=TINY,
                            ann_file='annotations/instances_train.json',
                            data_prefix=dict(img=''), pipeline=[])
    vocs = ToyShapesVOCDataset(data_root=str(tmp_path / 'voc'), generate=TINY,
                               ann_file='VOC2007/ImageSets/Main/trainval.txt', pipeline=[])
    assert vocs.metainfo['classes'] == coco.metainfo['classes'] and len(vocs) == 6
    for k in range(6):
        a, b = coco.get_data_info(k), vocs.get_data_info(k)
        assert [(i['bbox'], i['bbox_label']) for i in a['instances']] == \
            [(i['bbox'], i['bbox_label']) for i in b['instances']]
        with open(a['img_path'], 'rb') as fa, open(b['img_path'], 'rb') as fb:
            assert fa.read() == fb.read()
    test = ToyShapesVOCDataset(data_root=str(tmp_path / 'voc'),
                               ann_file='VOC2007/ImageSets/Main/test.txt', pipeline=[],
                               test_mode=True)
    sides = [(max(i['bbox'][2] - i['bbox'][0], i['bbox'][3] - i['bbox'][1]), i['ignore_flag'])
             for ds in (vocs, test) for k in range(len(ds))
             for i in ds.get_data_info(k)['instances']]
    assert any(ign for _, ign in sides)  # some difficult boxes, ignored
    assert all(ign == (side < 24) for side, ign in sides)


def test_classes_outside_the_split(base):
    with pytest.raises(ValueError, match=r"classes: \['zebra'\] are not in class_splits"):
        voc(base, classes=('cat', 'zebra'))
    ds = voc(base, classes=None, class_splits=None)  # VOC's 20, cat / dog / bird among them
    assert len(ds.metainfo['classes']) == 20 and ds.metainfo['dataset_type'] is None


def test_size_from_the_image_without_size(tmp_path):
    import cv2
    import numpy as np
    root = write_voc_root(str(tmp_path / 'VOC2007'), {'000001': [('cat', 0)]})
    xml = osp.join(root, 'Annotations', '000001.xml')
    _bad(xml, xml_text('VOC2007', '000001.jpg', [('cat', 0)], width=0, height=0))
    kwargs = dict(ann_file='VOC2007/ImageSets/Main/trainval.txt', classes=('cat', ))
    with pytest.raises(FileNotFoundError, match='000001.xml gives no image size'):
        voc(str(tmp_path), **kwargs)
    cv2.imwrite(osp.join(root, 'JPEGImages', '000001.jpg'), np.zeros((33, 44, 3), np.uint8))
    info = voc(str(tmp_path), **kwargs).get_data_info(0)
    assert (info['height'], info['width']) == (33, 44)
