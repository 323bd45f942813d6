"""TFA's VOC K-shot sampler: the same files as TFA's prepare_voc_few_shot.py."""
import importlib.util
import os
import os.path as osp
import random
import xml.etree.ElementTree as ET

import pytest
from conftest import REPO
from voc_fixtures import CLASSES, two_roots, write_voc_root

from mmfsod.detection.datasets.voc_few_shot_sampler import (index_voc_images,
                                                            voc_split_file_name,
                                                            write_voc_few_shot_splits)

SHOTS = (1, 2, 3, 5, 10)
TOOL = osp.join(REPO, 'tools', 'data', 'prepare_few_shot_split.py')


def tfa_reference(roots, seed, classes):
    """TFA's sampler as its paper's code describes it, written here
    independently: per class, a growing image list; for shot K_j draw
    K_j - K_{j-1} (1 for the first) images with random.sample from the
    class's images, append each (TFA's duplicate check never fires) until
    the drawn images hold that many objects of the class."""
    per_class = {c: [] for c in classes}
    for root in roots:
        for voc_id in open(osp.join(root, 'ImageSets/Main/trainval.txt')).read().split():
            xml = osp.join(root, 'Annotations', voc_id + '.xml')
            for c in {o.find('name').text for o in ET.parse(xml).findall('object')}:
                per_class[c].append(xml)
    state = random.getstate()
    random.seed(seed)
    out = {}
    for c in classes:
        listed = []
        for j, shot in enumerate(SHOTS):
            need = shot - SHOTS[j - 1] if j else 1
            found = 0
            for xml in random.sample(per_class[c], need):
                tree = ET.parse(xml)
                listed.append('datasets/{}/JPEGImages/{}'.format(
                    tree.find('folder').text, tree.find('filename').text))
                found += sum(o.find('name').text == c for o in tree.findall('object'))
                if found >= need:
                    break
            out[(c, shot)] = '\n'.join(listed) + '\n'
    random.setstate(state)
    return out


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    return two_roots(str(tmp_path_factory.mktemp('voc')))


@pytest.mark.parametrize('seed', [1, 2, 7])
def test_same_files_as_tfa(roots, tmp_path, seed):
    written = write_voc_few_shot_splits(roots, str(tmp_path), [seed], class_order=CLASSES)
    assert len(written[seed]) == len(CLASSES) * len(SHOTS)
    ref = tfa_reference(roots, seed, CLASSES)
    index = index_voc_images(roots, CLASSES)
    for c in CLASSES:
        prev = []
        for shot in SHOTS:
            path = tmp_path / f'seed{seed}' / voc_split_file_name(shot, c)
            text = path.read_text()
            assert text == ref[(c, shot)], (c, shot)
            lines = text.split()
            assert lines[:len(prev)] == prev  # a larger K contains the smaller
            prev = lines
            # the listed images hold at least K objects of the class
            objs = 0
            for line in lines:
                folder, _, name = line.split('/')[1:]
                xml = osp.join(osp.dirname(roots[0]), folder, 'Annotations',
                               name.replace('.jpg', '.xml'))
                objs += index['counts'][xml][c]
            assert objs >= shot


def test_seed0_is_kangs_sample(roots, tmp_path):
    with pytest.raises(ValueError, match="Kang et al.'s fixed sample"):
        write_voc_few_shot_splits(roots, str(tmp_path / 'a'), [0], class_order=CLASSES)
    kang = tmp_path / 'kang'
    kang.mkdir()
    for shot in SHOTS:
        for c in CLASSES:
            (kang / voc_split_file_name(shot, c)).write_text(f'{c} {shot}\n')
    paths = write_voc_few_shot_splits(roots, str(tmp_path / 'b'), [0, 1], class_order=CLASSES,
                                      kang_dir=str(kang))
    assert open(paths[0][0]).read() == 'cat 1\n' and osp.dirname(paths[0][0]) == str(
        tmp_path / 'b')
    os.remove(kang / voc_split_file_name(10, 'bird'))
    with pytest.raises(FileNotFoundError, match='box_10shot_bird_train.txt'):
        write_voc_few_shot_splits(roots, str(tmp_path / 'c'), [0], class_order=CLASSES,
                                  kang_dir=str(kang))
    # data other than VOC: seed 0 drawn like the others
    write_voc_few_shot_splits(roots, str(tmp_path / 'd'), [0], class_order=CLASSES,
                              sample_seed0=True)
    assert (tmp_path / 'd' / voc_split_file_name(3, 'dog')).read_text() == \
        tfa_reference(roots, 0, CLASSES)[('dog', 3)]


def test_sampler_bad_input(tmp_path):
    root = write_voc_root(str(tmp_path / 'VOC2007'),
                          {f'{i:06d}': [('cat', 0)] for i in range(6)})
    with open(osp.join(root, 'Annotations', '000002.xml'), 'w') as f:
        f.write('<annotation><object><name>zebra</name><difficult>0</difficult><bndbox>'
                '<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox>'
                '</object></annotation>')
    with pytest.raises(ValueError, match=r"000002\.xml: class names \['zebra'\]"):
        write_voc_few_shot_splits([root], str(tmp_path / 'o'), [1], class_order=('cat',))
    with pytest.raises(ValueError, match="'dog' has 0"):  # TFA: random.sample fails
        write_voc_few_shot_splits([root], str(tmp_path / 'o'), [1],
                                  class_order=('cat', 'dog', 'zebra'))


def _cli():
    spec = importlib.util.spec_from_file_location('prepare_few_shot_split', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_writes_voc_splits(roots, tmp_path, capsys):
    out = tmp_path / 'split'
    args = ['--format', 'voc', '--voc-roots', *roots, '--class-order', *CLASSES,
            '--out', str(out), '--seeds']
    assert _cli().main(args + ['1', '2']) == 0
    assert capsys.readouterr().out.split('\n')[:2] == [
        f'seed 1: wrote 15 files to {out}/seed1', f'seed 2: wrote 15 files to {out}/seed2']
    ref = tfa_reference(roots, 2, CLASSES)
    assert (out / 'seed2' / 'box_5shot_bird_train.txt').read_text() == ref[('bird', 5)]
    with pytest.raises(SystemExit) as err:
        _cli().main(args + ['0'])
    assert err.value.code == 2
    assert "seed 0 is Kang et al.'s fixed sample" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli().main(['--format', 'voc', '--seeds', '1', '--out', str(out)])
    assert '--format voc needs --voc-roots' in capsys.readouterr().err
