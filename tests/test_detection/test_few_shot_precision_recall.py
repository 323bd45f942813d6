"""tools/analysis_tools/few_shot_precision_recall.py on hand-made cases."""
import json
import os.path as osp
import runpy

import pytest

from conftest import REPO

TOOL = runpy.run_path(osp.join(REPO, 'tools', 'analysis_tools',
                               'few_shot_precision_recall.py'))


@pytest.fixture
def gt_file(tmp_path):
    coco = dict(images=[dict(id=1, file_name='val/a.jpg', height=100, width=100),
                        dict(id=2, file_name='val/b.jpg', height=100, width=100)],
                categories=[dict(id=7, name='cog'), dict(id=9, name='fan')],
                annotations=[dict(id=1, image_id=1, category_id=7, bbox=[0, 0, 20, 20]),
                             dict(id=2, image_id=1, category_id=7, bbox=[50, 50, 20, 20]),
                             dict(id=3, image_id=2, category_id=9, bbox=[10, 10, 30, 30]),
                             dict(id=4, image_id=2, category_id=7, bbox=[0, 0, 5, 5],
                                  iscrowd=1)])
    (tmp_path / 'annotations').mkdir()
    path = tmp_path / 'annotations' / 'val.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_counts(gt_file, tmp_path):
    a, b = str(tmp_path / 'val' / 'a.jpg'), str(tmp_path / 'val' / 'b.jpg')

    def det(f, name, box, score):
        return dict(file_name=f, category_name=name, bbox=box, score=score)
    results = [det(a, 'cog', [0, 0, 20, 20], 0.9),    # TP
               det(a, 'cog', [1, 1, 20, 20], 0.8),    # duplicate of a matched box: FP
               det(a, 'cog', [50, 50, 20, 20], 0.1),  # below the score threshold
               det(a, 'fan', [0, 0, 20, 20], 0.7),    # no fan in a: FP
               det(b, 'fan', [12, 12, 30, 30], 0.5),  # IoU 0.78: TP
               det(b, 'cog', [0, 0, 5, 5], 0.95)]     # only a crowd box there: FP
    table = TOOL['precision_recall'](results, gt_file, str(tmp_path), 0.5, 0.3)
    assert table['cog'] == dict(tp=1, dets=3, gts=2, precision=1 / 3, recall=0.5)
    assert table['fan'] == dict(tp=1, dets=2, gts=1, precision=0.5, recall=1.0)
    assert table['all']['tp'] == 2 and table['all']['images'] == 2
    assert table['all']['precision'] == 2 / 5 and table['all']['recall'] == 2 / 3
    # a stricter IoU: the shifted fan box no longer matches
    assert TOOL['precision_recall'](results, gt_file, str(tmp_path), 0.8, 0.3)['fan'][
        'tp'] == 0
    with pytest.raises(ValueError, match='c.jpg is not an image of'):
        TOOL['precision_recall']([det(str(tmp_path / 'c.jpg'), 'cog', [0, 0, 1, 1], 1.0)],
                                 gt_file, str(tmp_path))


def test_list_images(gt_file, tmp_path):
    assert TOOL['list_images'](gt_file, str(tmp_path), ['fan']) == [
        str(tmp_path / 'val' / 'b.jpg')]
    assert len(TOOL['list_images'](gt_file, str(tmp_path), ['cog', 'fan'])) == 2


def test_queried_images_and_classes_without_detections_count(gt_file, tmp_path):
    """An image or a class that got no detection still counts its boxes
    when the queried images and the support classes are given (the CLI
    reads the images from OUT_DIR/preds/, one json per queried image)."""
    a, b = str(tmp_path / 'val' / 'a.jpg'), str(tmp_path / 'val' / 'b.jpg')
    results = [dict(file_name=a, category_name='cog', bbox=[0, 0, 20, 20], score=0.9)]
    alone = TOOL['precision_recall'](results, gt_file, str(tmp_path))
    assert set(alone) == {'cog', 'all'} and alone['all']['images'] == 1
    table = TOOL['precision_recall'](results, gt_file, str(tmp_path), images=[a, b],
                                     classes=['cog', 'fan'])
    fan = table['fan']
    assert (fan['tp'], fan['dets'], fan['gts'], fan['recall']) == (0, 0, 1, 0.0)
    assert table['all']['images'] == 2 and table['all']['gts'] == 3
    with pytest.raises(ValueError, match='not among the queried images'):
        TOOL['precision_recall'](results, gt_file, str(tmp_path), images=[b])
    # the command line takes the queried images from OUT_DIR/preds/
    out = tmp_path / 'out'
    (out / 'preds').mkdir(parents=True)
    (out / 'results.bbox.json').write_text(json.dumps(results))
    for path in (a, b):
        (out / 'preds' / (osp.basename(path) + '.json')).write_text(json.dumps(
            dict(img_path=path, labels=[], scores=[], bboxes=[], label_names=[])))
    from conftest import run_tool
    res = run_tool(['tools/analysis_tools/few_shot_precision_recall.py',
                    str(out / 'results.bbox.json'), gt_file, '--img-dir', str(tmp_path),
                    '--classes', 'cog', 'fan'])
    assert res.returncode == 0, res.stdout
    assert res.stdout.splitlines()[0].startswith('2 images')
    row = [line for line in res.stdout.splitlines() if line.startswith('all')][0]
    assert row.split()[1:4] == ['1', '1', '3']


def test_default_img_dir_follows_the_documented_layout(gt_file, tmp_path, capsys):
    """Without --img-dir: ROOT/images/ (docs/custom_dataset.md) when the
    images are there, else ROOT/ (the toy sets); neither is one error line."""
    root = osp.dirname(osp.dirname(gt_file))
    with pytest.raises(FileNotFoundError, match=r'val.json: its images \(val/a.jpg, ...\) '
                       r'are not under any of .*--img-dir$'):
        TOOL['default_img_dir'](gt_file)
    assert TOOL['main']([gt_file, '--list-images', '--classes', 'fan']) == 2
    err = capsys.readouterr().err
    assert err.startswith('few_shot_precision_recall.py: error: ') and err.count('\n') == 1
    for name in ('a.jpg', 'b.jpg'):  # the toy layout: file_name relative to ROOT
        (tmp_path / 'val').mkdir(exist_ok=True)
        (tmp_path / 'val' / name).write_bytes(b'')
    assert TOOL['default_img_dir'](gt_file) == root
    for name in ('a.jpg', 'b.jpg'):  # the documented layout wins
        (tmp_path / 'images' / 'val').mkdir(parents=True, exist_ok=True)
        (tmp_path / 'images' / 'val' / name).write_bytes(b'')
    assert TOOL['default_img_dir'](gt_file) == osp.join(root, 'images')
    assert TOOL['main']([gt_file, '--list-images', '--classes', 'fan']) == 0
    assert capsys.readouterr().out.split() == [osp.join(root, 'images', 'val', 'b.jpg')]
