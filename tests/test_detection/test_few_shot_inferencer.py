"""FewShotDetInferencer and tools/few_shot_demo.py: supports from a COCO
json, a Python list, templates (the checkpoint's, saved / loaded), the CLI,
the short fine-tuning, mmdet's own APIs, and bad input."""
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import REPO, run_tool

CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
FINE_TUNE = osp.join(CONFIGS, 'gcn_fsod_tiny_fine-tuning.py')
CLASSES = ('red_circle', 'blue_triangle')  # the json's category order


@pytest.fixture(scope='module')
def fsod_env(fsod_toy_root):
    old = os.environ.get('MMFSOD_TEST_FSOD_ROOT')
    os.environ['MMFSOD_TEST_FSOD_ROOT'] = fsod_toy_root
    yield {'MMFSOD_TEST_FSOD_ROOT': fsod_toy_root}
    if old is None:
        os.environ.pop('MMFSOD_TEST_FSOD_ROOT', None)
    else:
        os.environ['MMFSOD_TEST_FSOD_ROOT'] = old


@pytest.fixture(scope='module')
def tiny_ckpt(fsod_env, fsod_toy_root, tmp_path_factory):
    """A seeded, untrained tiny GCN-FSOD checkpoint whose meta records the
    2-shot templates of all 12 toy classes (as SupportTemplateHook does)."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint

    import mmfsod.detection  # noqa: F401
    from mmfsod.detection.datasets import select_support_templates
    init_default_scope('mmdet')
    cfg = Config.fromfile(FINE_TUNE)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    templates = select_support_templates(DATASETS.build(cfg.train_dataloader.dataset))
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    save_checkpoint(dict(state_dict=model.state_dict(),
                         meta=dict(support_templates=templates,
                                   dataset_meta=dict(classes=templates['classes']))), path)
    return path


@pytest.fixture(scope='module')
def support_json(fsod_toy_root, tmp_path_factory):
    """A COCO json of 2 boxes each of CLASSES, as a user writes one: image
    paths relative to the toy root, boxes x, y, w, h; and the same boxes."""
    with open(osp.join(fsod_toy_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    cats = {c['name']: c['id'] for c in coco['categories']}
    anns = []
    for name in CLASSES:
        anns += [a for a in coco['annotations'] if a['category_id'] == cats[name]
                 and a['bbox'][2] * a['bbox'][3] >= 64][:2]
    img_ids = {a['image_id'] for a in anns}
    out = dict(images=[im for im in coco['images'] if im['id'] in img_ids],
               annotations=anns, categories=coco['categories'])
    path = str(tmp_path_factory.mktemp('supports') / 'supports.json')
    with open(path, 'w') as f:
        json.dump(out, f)
    files = {im['id']: osp.join(fsod_toy_root, im['file_name']) for im in out['images']}
    items = [(files[a['image_id']], [a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                                     a['bbox'][1] + a['bbox'][3]],
              next(n for n, i in cats.items() if i == a['category_id'])) for a in anns]
    return path, items


@pytest.fixture(scope='module')
def queries(fsod_toy_root):
    folder = osp.join(fsod_toy_root, 'val')
    return sorted(osp.join(folder, f) for f in os.listdir(folder))[:3]


def _inferencer(ckpt, config=FINE_TUNE, **kwargs):
    from mmfsod.detection.apis import FewShotDetInferencer
    return FewShotDetInferencer(config, ckpt, device='cpu', show_progress=False, **kwargs)


def _same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert p['label_names'] == q['label_names'] and p['labels'] == q['labels']
        np.testing.assert_allclose(p['bboxes'], q['bboxes'], rtol=0, atol=1e-4)
        np.testing.assert_allclose(p['scores'], q['scores'], rtol=0, atol=1e-6)


def test_json_and_list_supports_give_equal_detections(tiny_ckpt, support_json, queries):
    path, items = support_json
    from_json = _inferencer(tiny_ckpt, supports=path, support_img_dir=osp.dirname(
        osp.dirname(items[0][0])))
    assert from_json.classes == CLASSES
    ref = from_json(queries)['predictions']
    assert sum(len(p['scores']) for p in ref) > 0  # something to compare
    # the same boxes from Python: paths, then arrays (BGR, as mmcv.imread reads)
    inf = _inferencer(tiny_ckpt, supports=items)
    _same(ref, inf(queries)['predictions'])
    arrays = [(mmcv.imread(p), box, name) for p, box, name in items]
    inf.set_supports(arrays)
    _same(ref, inf(queries)['predictions'])
    # one class kept: its detections are those of the two-class run
    inf.set_supports(arrays, classes=['red_circle'])
    one = inf(queries)['predictions']
    assert all(set(p['label_names']) <= {'red_circle'} for p in one)


def test_saved_then_loaded_templates_give_equal_detections(tiny_ckpt, support_json,
                                                           queries, tmp_path):
    _, items = support_json
    arrays = [(mmcv.imread(p), box, name) for p, box, name in items]
    inf = _inferencer(tiny_ckpt, supports=arrays)
    ref = inf(queries)['predictions']
    path = inf.save_templates(str(tmp_path / 'templates.json'))
    assert sorted(os.listdir(tmp_path / 'templates_images'))  # array images as PNG
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.')]  # no temp file
    fresh = _inferencer(tiny_ckpt)  # the checkpoint's 12 classes ...
    assert len(fresh.classes) == 12
    fresh.load_templates(path)  # ... replaced by the saved ones
    assert fresh.classes == CLASSES
    _same(ref, fresh(queries)['predictions'])


def test_checkpoint_templates_equal_the_test_tools_supports(tiny_ckpt, fsod_toy_root):
    """No supports given: the checkpoint's templates, through the same
    pipeline as SupportTemplateHook (tools/test.py)."""
    from mmfsod.detection.datasets import build_template_supports
    inf = _inferencer(tiny_ckpt)
    meta = torch.load(tiny_ckpt, weights_only=False)['meta']['support_templates']
    assert inf.classes == tuple(meta['classes'])
    hook_supports = build_template_supports(meta, inf.support_pipeline, inf.classes)
    for label, (inputs, info) in inf.model._templates.items():
        assert torch.equal(inputs, hook_supports[label][0])
        assert torch.allclose(info.bboxes, hook_supports[label][1].bboxes)


def test_labels_original_pixels_and_max_per_img(tiny_ckpt, support_json, queries):
    _, items = support_json
    cfg = Config.fromfile(FINE_TUNE)
    inf = _inferencer(tiny_ckpt, config=cfg, supports=items)
    out = inf(queries, return_datasamples=True)['predictions']
    counts = [len(p.pred_instances) for p in out]
    assert max(counts) > 3
    for path, pred in zip(queries, out):
        h, w = mmcv.imread(path).shape[:2]
        assert pred.ori_shape == (h, w) and pred.img_shape != (h, w)  # resized
        # independent: the model on the resized image without rescale,
        # boxes divided by the scale factor
        data = inf.collate_fn([inf.pipeline(path)])
        data = inf.model.data_preprocessor(data, False)
        raw = inf.model.predict(data['inputs'], data['data_samples'], rescale=False)[0]
        sx, sy = pred.scale_factor
        expect = raw.pred_instances.bboxes / raw.pred_instances.bboxes.new_tensor(
            [sx, sy, sx, sy])
        torch.testing.assert_close(pred.pred_instances.bboxes, expect)
        assert (pred.pred_instances.bboxes[:, 2] <= w + 1e-3).all()
        assert (pred.pred_instances.bboxes[:, 3] <= h + 1e-3).all()
    named = inf(queries)['predictions']
    for p in named:
        assert p['label_names'] == [CLASSES[i] for i in p['labels']]
    cfg.model.test_cfg.max_per_img = 3
    capped = _inferencer(tiny_ckpt, config=cfg, supports=items)(queries)['predictions']
    assert max(len(p['scores']) for p in capped) == 3
    for p, q in zip(capped, named):  # the 3 best of the uncapped run
        np.testing.assert_allclose(p['scores'], sorted(q['scores'], reverse=True)[:3],
                                   atol=1e-6)


def _renumbered_val_json(fsod_toy_root, path):
    """The toy val json with its own, non-consecutive image and category
    ids (as a user's json may have): image i -> 1000 - 7 i, category c ->
    5 c + 3 (reversed order)."""
    with open(osp.join(fsod_toy_root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    img = {im['id']: 1000 - 7 * im['id'] for im in coco['images']}
    cat = {c['id']: 5 * (100 - c['id']) + 3 for c in coco['categories']}
    coco['images'] = [dict(im, id=img[im['id']]) for im in coco['images']]
    coco['categories'] = [dict(c, id=cat[c['id']]) for c in coco['categories']][::-1]
    coco['annotations'] = [dict(a, image_id=img[a['image_id']],
                                category_id=cat[a['category_id']])
                           for a in coco['annotations']]
    with open(path, 'w') as f:
        json.dump(coco, f)
    return coco


def test_cli_json_equals_api(tiny_ckpt, support_json, queries, fsod_env, fsod_toy_root,
                             tmp_path):
    """The demo's results.bbox.json in the ids of --ann-file (a json with
    its own image and category ids, file names with a sub-folder), equal to
    the API's detections; no harmless-but-alarming warning in the output."""
    path, _ = support_json
    out_dir = tmp_path / 'out'
    val = _renumbered_val_json(fsod_toy_root, str(tmp_path / 'val.json'))
    res = run_tool(['tools/few_shot_demo.py', osp.join(fsod_toy_root, 'val', '00000[0-2].jpg'),
                    FINE_TUNE, tiny_ckpt, '--supports', path, '--support-img-dir',
                    fsod_toy_root, '--out-dir', str(out_dir), '--score-thr', '0.05',
                    '--ann-file', str(tmp_path / 'val.json')], env=fsod_env)
    assert res.returncode == 0, res.stdout[-3000:]
    assert '2 support classes: red_circle (2 boxes), blue_triangle (2 boxes)' in res.stdout
    assert f'image_id and category_id of {tmp_path / "val.json"}' in res.stdout
    for alarm in ('Failed to search registry', 'Failed to add', 'UserWarning', 'ERROR'):
        assert alarm not in res.stdout
    with open(out_dir / 'results.bbox.json') as f:
        cli = json.load(f)
    api = _inferencer(tiny_ckpt, supports=path, support_img_dir=fsod_toy_root)
    preds = api(queries)['predictions']
    img_id = {im['file_name']: im['id'] for im in val['images']}
    cat_id = {c['name']: c['id'] for c in val['categories']}
    expect = [dict(image_id=img_id['val/' + osp.basename(q)], file_name=q,
                   category_id=cat_id[CLASSES[lab]], category_name=CLASSES[lab],
                   bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]], score=s)
              for i, (q, p) in enumerate(zip(queries, preds))
              for b, s, lab in zip(p['bboxes'], p['scores'], p['labels'])]
    assert len(cli) == len(expect) > 0
    for c, e in zip(cli, expect):
        assert {k: c[k] for k in ('image_id', 'category_id', 'category_name')} == \
            {k: e[k] for k in ('image_id', 'category_id', 'category_name')}
        assert osp.abspath(c['file_name']) == osp.abspath(e['file_name'])
        np.testing.assert_allclose(c['bbox'], e['bbox'], atol=1e-4)
        assert abs(c['score'] - e['score']) < 1e-6
    assert sorted(os.listdir(out_dir / 'vis')) == ['000000.jpg', '000001.jpg', '000002.jpg']
    with open(out_dir / 'preds' / '000001.json') as f:
        assert json.load(f)['label_names'] == [CLASSES[i] for i in preds[1]['labels']]


def test_cli_fine_tune_writes_checkpoint_test_tool_evaluates(
        tiny_ckpt, fsod_env, fsod_toy_root, tmp_path):
    from mmfsod.utils.toy_shapes import TOY_SHAPES_CLASSES
    shots = [osp.join(fsod_toy_root, 'few_shot_ann', f'full_box_2shot_{c}_trainval.json')
             for c in TOY_SHAPES_CLASSES]
    out_dir = tmp_path / 'out'
    res = run_tool(['tools/few_shot_demo.py', osp.join(fsod_toy_root, 'val', '000000.jpg'),
                    FINE_TUNE, tiny_ckpt, '--supports', *shots, '--support-img-dir',
                    fsod_toy_root, '--out-dir', str(out_dir), '--fine-tune-iters', '2',
                    '--no-save-vis'], env=fsod_env)
    assert res.returncode == 0, res.stdout[-3000:]
    ckpt = out_dir / 'fine-tune' / 'iter_2.pth'
    meta = torch.load(str(ckpt), weights_only=False)['meta']['support_templates']
    assert meta['classes'] == list(TOY_SHAPES_CLASSES)
    assert all(len(v) == 2 for v in meta['templates'].values())
    assert '12 support classes' in res.stdout
    prefix = tmp_path / 'test' / 'results'
    res = run_tool(['tools/test.py', FINE_TUNE, str(ckpt), '--work-dir',
                    str(tmp_path / 'test'), '--cfg-options',
                    f'test_evaluator.outfile_prefix={prefix}'], env=fsod_env)
    assert res.returncode == 0, res.stdout[-3000:]
    assert 'support templates from the checkpoint' in res.stdout
    assert 'coco/novel/bbox_mAP' in res.stdout
    # the test tool's results file, in the ids of the evaluator's ann_file
    val = osp.join(fsod_toy_root, 'annotations', 'instances_val.json')
    assert f"detections in COCO's results format (the ids of {val}): {prefix}.bbox.json" \
        in res.stdout
    with open(val) as f:
        coco = json.load(f)
    with open(f'{prefix}.bbox.json') as f:
        dets = json.load(f)
    assert dets and {d['image_id'] for d in dets} <= {im['id'] for im in coco['images']}
    assert {d['category_id'] for d in dets} <= {c['id'] for c in coco['categories']}


def test_mmdet_apis_point_to_few_shot_inferencer(tiny_ckpt, queries):
    from mmdet.apis import DetInferencer, inference_detector, init_detector
    model = init_detector(FINE_TUNE, tiny_ckpt, device='cpu')
    with pytest.raises(RuntimeError, match='FewShotDetInferencer'):
        inference_detector(model, queries[0])
    inferencer = DetInferencer(FINE_TUNE, tiny_ckpt, device='cpu', show_progress=False)
    with pytest.raises(RuntimeError, match='FewShotDetInferencer'):
        inferencer(queries[0])


def test_bad_input(tiny_ckpt, support_json, queries, fsod_toy_root, tmp_path):
    from mmfsod.detection.apis import load_support_set
    path, items = support_json
    img = items[0][0]
    inf = _inferencer(tiny_ckpt, supports=items)
    h, w = mmcv.imread(img).shape[:2]
    with pytest.raises(ValueError, match=rf'supports\[0\] .*{img}.*outside its image'):
        inf.set_supports([(img, [w + 1, 0, w + 5, 10], 'a')])
    with pytest.raises(ValueError, match=r'supports\[1\].*zero area'):
        inf.set_supports([(img, [0, 0, 10, 10], 'a'), (img, [5, 5, 5, 20], 'b')])
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inf.set_supports([(str(tmp_path / 'missing.jpg'), [0, 0, 5, 5], 'a')])
    bad = tmp_path / 'broken.jpg'
    bad.write_text('not an image')
    with pytest.raises(ValueError, match='broken.jpg'):
        inf.set_supports([(str(bad), [0, 0, 5, 5], 'a')])
    with pytest.raises(ValueError, match=r"no support boxes for classes \['cyan_diamond'\]"):
        inf.set_supports(path, img_dir=fsod_toy_root, classes=['red_circle', 'cyan_diamond'])
    with pytest.raises(ValueError, match=r"named twice: \['red_circle'\]"):
        inf.set_supports(items, classes=['red_circle', 'red_circle'])
    with open(path) as f:
        coco = json.load(f)
    twice = dict(coco, categories=coco['categories'] + [dict(id=99, name='red_circle')])
    (tmp_path / 'twice.json').write_text(json.dumps(twice))
    with pytest.raises(ValueError, match=r"twice.json: categories named twice"):
        load_support_set(str(tmp_path / 'twice.json'))
    (tmp_path / 'empty.json').write_text(json.dumps(dict(coco, annotations=[])))
    with pytest.raises(ValueError, match='empty.json: a support json with no annotations'):
        inf.set_supports(str(tmp_path / 'empty.json'))
    # a box outside its image, from a COCO json: the file and the annotation
    ann = dict(coco['annotations'][0], bbox=[5000, 0, 10, 10])
    (tmp_path / 'out.json').write_text(json.dumps(dict(coco, annotations=[ann])))
    with pytest.raises(ValueError, match=rf'out.json: annotation {ann["id"]} .*outside'):
        inf.set_supports(str(tmp_path / 'out.json'), img_dir=fsod_toy_root)
    # the previous supports stay after a refused set
    assert inf.classes == CLASSES
    (tmp_path / 'no_images').mkdir()
    with pytest.raises(ValueError, match='no image .* in the folder .*no_images'):
        inf(str(tmp_path / 'no_images'))
    with pytest.raises(ValueError, match='no image matches .*nothing'):
        inf(str(tmp_path / 'nothing*.jpg'))
    with pytest.raises(FileNotFoundError, match='query image not found: .*gone.jpg'):
        inf(str(tmp_path / 'gone.jpg'))


def test_cli_bad_input_is_a_clear_error(tiny_ckpt, support_json, fsod_env, tmp_path):
    path, _ = support_json
    (tmp_path / 'empty').mkdir()
    res = run_tool(['tools/few_shot_demo.py', str(tmp_path / 'empty'), FINE_TUNE, tiny_ckpt,
                    '--supports', path], env=fsod_env)
    assert res.returncode == 2
    assert 'error: query: no image' in res.stdout and 'empty' in res.stdout
    assert 'Traceback' not in res.stdout


def test_results_written_whole_or_not_at_all(tmp_path):
    from mmfsod.detection.apis.io import dump_json_atomic
    target = tmp_path / 'results.bbox.json'
    dump_json_atomic([dict(a=1)], str(target))
    with pytest.raises(TypeError):
        dump_json_atomic([dict(a=object())], str(target))  # fails half-way
    assert json.loads(target.read_text()) == [dict(a=1)]
    assert os.listdir(tmp_path) == ['results.bbox.json']


def test_fine_tune_config_keeps_frozen_parts_and_schedule_shape(fsod_env, tmp_path):
    from mmfsod.detection.apis import build_fine_tune_config
    toy_ft = osp.join(REPO, 'configs', 'gcn_fsod', 'toy',
                      'gcn-fsod_r18_c4_toy_10shot-fine-tuning.py')
    cfg = Config.fromfile(toy_ft)
    ft = build_fine_tune_config(cfg, 'base.pth', '/s/instances.json', ['cog'], 5, 100,
                                str(tmp_path))
    assert ft.model.backbone.frozen_stages == cfg.model.backbone.frozen_stages == 2
    assert ft.optim_wrapper == cfg.optim_wrapper and ft.load_from == 'base.pth'
    assert ft.train_cfg.max_iters == 100 and ft.val_dataloader is None
    # the 300-iteration schedule's milestone at 195 (0.65) moves to 65
    assert ft.param_scheduler[0]['milestones'] == [65] and ft.param_scheduler[0]['end'] == 100
    qs = ft.train_dataloader.dataset
    assert qs.num_support_ways == 1  # one class: no negative class to pair
    assert qs.dataset.ann_file == '/s/instances.json' and qs.dataset.classes == ['cog']
    assert qs.dataset.type == 'FewShotCocoDataset' and 'generate' not in qs.dataset
    assert [h['type'] for h in ft.custom_hooks] == ['SupportTemplateHook']
    assert ft.custom_hooks[0]['num_shots'] is None
    with pytest.raises(ValueError, match='fine-tuning iterations must be an integer >= 1'):
        build_fine_tune_config(cfg, 'base.pth', 'a.json', ['cog'], 5, 0, str(tmp_path))
    cfg.train_dataloader.dataset = dict(type='ToyShapesDataset')
    with pytest.raises(ValueError, match='must be a QuerySupportDataset'):
        build_fine_tune_config(cfg, 'base.pth', 'a.json', ['cog'], 5, 10, str(tmp_path))
