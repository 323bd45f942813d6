"""Derived config fields ('${key}' references, mmfsod/utils/config_derived.py)
and the custom template of configs/gcn_fsod/custom/: a child config in a
folder outside the repository, or --cfg-options, that changes data_root,
the class names, the image folder, the K-shot setting changes every field
derived from them."""
import json
import os.path as osp

import pytest
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

from conftest import REPO, run_tool
from mmfsod.utils.config_derived import has_references, resolve_derived, stale_copies
from mmfsod.utils.tools import load_config

CUSTOM = 'mmfsod::gcn_fsod/custom/'
BASE_CFG = 'gcn-fsod_r18_c4_custom_base-training.py'
FT_CFG = 'gcn-fsod_r18_c4_custom_10shot-fine-tuning.py'
# the template's own values: none may be left anywhere once overridden
TEMPLATE_VALUES = ('data/my_dataset', 'base_class_a', 'base_class_b', 'base_class_c',
                   'novel_class_x', 'annotations/train.json', 'annotations/val.json',
                   'few_shot_ann/', "'images/'")


# ---------------------------------------------------------------- the rule
def test_references_whole_embedded_dotted_nested():
    cfg = Config(dict(
        root='/d/', ann='a.json', classes=('x', 'y'), shot=5,
        splits=dict(BASE_CLASSES='${classes}', NOVEL_CLASSES=('z', )),
        ds=dict(data_root='${root}', ann_file='${root}ann/${ann}', classes='${classes}',
                few=dict(shot='${shot}', name='k${shot}'), base='${splits.BASE_CLASSES}',
                splits='${splits}', lst=['${root}', 1, ('${shot}', )])))
    resolve_derived(cfg)
    ds = cfg.ds
    assert ds.data_root == '/d/' and ds.ann_file == '/d/ann/a.json'
    assert ds.classes == ('x', 'y') and ds.base == ('x', 'y')
    assert ds.few.shot == 5 and isinstance(ds.few.shot, int) and ds.few.name == 'k5'
    assert ds.splits == dict(BASE_CLASSES=('x', 'y'), NOVEL_CLASSES=('z', ))
    assert cfg.splits.BASE_CLASSES == ('x', 'y')
    assert ds.lst == ['/d/', 1, (5, )]
    assert not has_references(cfg.to_dict())
    # resolved once: a copy per field, and resolving again changes nothing
    ds.classes += ('w', )
    assert cfg.classes == ('x', 'y')
    before = cfg.to_dict()
    assert resolve_derived(cfg).to_dict() == before


def test_a_config_without_references_is_unchanged():
    cfg = Config(dict(a=1, b=dict(c='$x {y}', d=[1, 2])))
    assert resolve_derived(cfg).to_dict() == dict(a=1, b=dict(c='$x {y}', d=[1, 2]))


@pytest.mark.parametrize('cfg,message', [
    (dict(ds=dict(data_root='${data_rot}'), data_root='x'),
     "ds.data_root: '${data_rot}' names no top-level key 'data_rot'"),
    (dict(a='${b}', b=dict(c='${a}')), "refers back to itself: a -> b -> a"),
    (dict(s=dict(x=1), ds=dict(f='${s.y}')), "ds.f: '${s.y}': the config has no 's.y'"),
    (dict(c=('a', ), ds=dict(f='p/${c}')), "ds.f: '${c}' inside 'p/${c}' must be a str"),
    (dict(ds=dict(f='${ bad }')), "ds.f: '${ bad }': a \"${\" that is not a reference"),
])
def test_bad_references_are_one_line_naming_the_field(cfg, message, tmp_path):
    path = str(tmp_path / 'my_cfg.py')
    Config(cfg).dump(path)
    with pytest.raises(KeyError) as info:
        resolve_derived(Config.fromfile(path))
    text = str(info.value.args[0])
    assert message in text and text.endswith(f'(config {path})') and '\n' not in text


# ------------------------------------------------------ the custom template
def _child(folder, name, base, **values):
    lines = [f'_base_ = {CUSTOM + base!r}'] + [f'{k} = {v!r}' for k, v in values.items()]
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def _derived_fields(cfg):
    """Every field of the template derived from the top-level settings."""
    base = cfg.train_dataloader.dataset.dataset
    out = {}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        ds = ds.get('dataset', ds)
        out[key] = (ds.data_root, ds.get('ann_file'), ds.data_prefix.img,
                    ds.class_splits['BASE_CLASSES'], ds.class_splits['NOVEL_CLASSES'],
                    ds.get('few_shot_ann'))
    out['evaluator'] = (cfg.val_evaluator.ann_file, dict(cfg.val_evaluator.class_groups),
                        cfg.test_evaluator.ann_file, dict(cfg.test_evaluator.class_groups))
    out['class_splits'] = dict(cfg.class_splits)
    out['hooks'] = [h.get('novel_classes') for h in cfg.custom_hooks]
    # image sizes: the Resize / Pad steps of every pipeline
    sizes = set()
    pipelines = [cfg.train_dataloader.dataset.support_pipeline,
                 cfg.custom_hooks[0].support_pipeline]
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        pipelines.append(ds.get('dataset', ds).pipeline)
    for pipeline in pipelines:
        sizes.update(tuple(t.get('scale', t.get('size'))) for t in pipeline
                     if t.type in ('Resize', 'Pad'))
    out['sizes'] = sizes
    assert base is cfg.train_dataloader.dataset.dataset
    return out


USER = dict(data_root='/elsewhere/letters/', base_classes=('cat', 'dog'),
            novel_classes=('fox', ), img_prefix='pics/', val_ann_file='ann/v.json',
            train_ann_file='ann/t.json', few_shot_ann_root='kshot/', shot=3, seed=2,
            img_scale=(256, 200), support_size=64)


def _check_follows(cfg, fine_tune: bool):
    fields = _derived_fields(cfg)
    splits = (('cat', 'dog'), ('fox', ))
    if fine_tune:
        assert fields['train_dataloader'] == (
            '/elsewhere/letters/', '', 'pics/', *splits, dict(root='kshot/', shot=3, seed=2))
        groups = dict(novel=('fox', ), base=('cat', 'dog'))
        assert fields['hooks'] == [None, ('fox', )]
    else:
        assert fields['train_dataloader'] == (
            '/elsewhere/letters/', 'ann/t.json', 'pics/', *splits, None)
        groups = dict(base=('cat', 'dog'))
    for key in ('val_dataloader', 'test_dataloader'):
        assert fields[key] == ('/elsewhere/letters/', 'ann/v.json', 'pics/', *splits, None)
    assert fields['evaluator'] == ('/elsewhere/letters/ann/v.json', groups,
                                   '/elsewhere/letters/ann/v.json', groups)
    assert fields['class_splits'] == dict(BASE_CLASSES=splits[0], NOVEL_CLASSES=splits[1])
    assert fields['sizes'] == {(256, 200), (64, 64)}
    text = cfg.pretty_text
    assert '${' not in text
    for old in TEMPLATE_VALUES:
        assert old not in text, old


@pytest.mark.parametrize('base,fine_tune', [(BASE_CFG, False), (FT_CFG, True)])
def test_child_config_outside_the_repo_moves_every_derived_field(tmp_path, base, fine_tune,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)  # neither the repository nor its configs/ around
    path = _child(tmp_path, 'my_cfg.py', base, **USER)
    _check_follows(load_config(path), fine_tune)


def _cli_options(values: dict) -> dict:
    """``values`` as ``--cfg-options k=v ...`` gives them (mmengine's parser)."""
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = [f'{k}=({",".join(map(str, v))},)' if isinstance(v, tuple) else f'{k}={v}'
            for k, v in values.items()]
    return parser.parse_args(['--cfg-options', *args]).cfg_options


@pytest.mark.parametrize('base,fine_tune', [(BASE_CFG, False), (FT_CFG, True)])
def test_cfg_options_move_every_derived_field(tmp_path, base, fine_tune):
    options = _cli_options(USER)
    assert options['base_classes'] == ('cat', 'dog') and options['shot'] == 3
    cfg = load_config(_child(tmp_path, 'my_cfg.py', base), options)
    _check_follows(cfg, fine_tune)
    # the same datasets as a child config with those values
    by_child = load_config(_child(tmp_path, 'same.py', base, **USER))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator'):
        assert cfg[key].to_dict() == by_child[key].to_dict(), key


def test_a_field_set_in_a_child_keeps_its_value(tmp_path):
    """The rule's other half: a field given a plain value does not follow."""
    path = _child(tmp_path, 'my_cfg.py', BASE_CFG, data_root='/new/')
    with open(path, 'a') as f:
        f.write("val_dataloader = dict(dataset=dict(data_root='/only/val/'))\n")
    cfg = load_config(path)
    assert cfg.train_dataloader.dataset.dataset.data_root == '/new/'
    assert cfg.val_dataloader.dataset.data_root == '/only/val/'
    assert cfg.val_evaluator.ann_file == '/new/annotations/val.json'


def test_print_config_shows_the_overrides(tmp_path):
    path = _child(tmp_path, 'my_cfg.py', FT_CFG)
    res = run_tool([osp.join(REPO, 'tools', 'misc', 'print_config.py'), path, '--cfg-options',
                    'data_root=/elsewhere/', 'novel_classes=fox,'], cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:]
    assert "data_root='/elsewhere/'" in res.stdout
    assert "ann_file='/elsewhere/annotations/val.json'" in res.stdout
    assert 'data/my_dataset' not in res.stdout and 'novel_class_x' not in res.stdout
    assert "novel_classes=[\n            'fox',\n" in res.stdout or \
        "novel_classes=['fox'" in res.stdout.replace('\n', '').replace(' ', '')


def _tiny_coco(path, names=('cat', 'dog', 'fox'), ids=(11, 5, 23)):
    images, anns = [], []
    for i in range(6):
        images.append(dict(id=100 + i, file_name=f'sub/{i}.jpg', width=64, height=64))
        for j, cid in enumerate(ids):
            if (i + j) % 2 == 0:
                anns.append(dict(id=len(anns) + 1, image_id=100 + i, category_id=cid,
                                 bbox=[4 + 8 * j, 4, 16, 16], area=256, iscrowd=0))
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=[dict(id=c, name=n) for c, n in zip(ids, names)]), f)


def test_child_config_builds_its_datasets(tmp_path, monkeypatch):
    """The datasets of a child config (elsewhere, its own data_root, classes,
    shots and seed) build on that data: classes, files and K-shot files."""
    from mmdet.registry import DATASETS
    from mmfsod.detection.datasets.few_shot_split import write_few_shot_splits
    root = tmp_path / 'letters'
    (root / 'ann').mkdir(parents=True)
    _tiny_coco(str(root / 'ann' / 't.json'))
    _tiny_coco(str(root / 'ann' / 'v.json'))
    write_few_shot_splits(str(root / 'ann' / 't.json'), str(root / 'kshot'), seeds=[2],
                          shots=[1])
    monkeypatch.chdir(tmp_path)
    path = _child(tmp_path, 'my_cfg.py', FT_CFG, **dict(USER, data_root=str(root) + '/',
                                                        shot=1))
    cfg = load_config(path)
    with DefaultScope.overwrite_default_scope('mmdet'):
        val = DATASETS.build(cfg.val_dataloader.dataset)
        ft = DATASETS.build(cfg.train_dataloader.dataset.dataset)
    assert val.metainfo['classes'] == ('cat', 'dog', 'fox') and len(val) == 6
    assert val.ann_file == str(root / 'ann' / 'v.json')
    assert ft.metainfo['classes'] == ('cat', 'dog', 'fox')
    assert ft.few_shot_files() == [
        str(root / 'kshot' / 'seed2' / f'full_box_1shot_{c}_trainval.json')
        for c in ('cat', 'dog', 'fox')]
    assert all(osp.isfile(p) for p in ft.few_shot_files())
    infos = [ft.get_data_info(i) for i in range(len(ft))]
    assert sum(len(d['instances']) for d in infos) == 3  # one box a class
    assert infos[0]['img_path'].startswith(str(root / 'pics' / 'sub'))


def test_shipped_template_is_resolved_by_every_repo_config_loader():
    """The repository's template resolves to its documented defaults."""
    cfg = load_config(osp.join(REPO, 'configs', 'gcn_fsod', 'custom', FT_CFG))
    assert cfg.val_evaluator.ann_file == 'data/my_dataset/annotations/val.json'
    assert cfg.train_dataloader.dataset.dataset.few_shot_ann == dict(
        root='few_shot_ann/', shot=10, seed=0)
    assert not has_references(cfg.to_dict())


def test_the_few_shot_inferencer_reads_the_resolved_config(tmp_path):
    """The demo's inferencer (no tool's load_config) resolves the references:
    the support images are looked for under the child's data_root."""
    from mmfsod.detection.apis import FewShotDetInferencer
    from mmfsod.detection.apis.paths import config_image_dirs
    path = _child(tmp_path, 'my_cfg.py', FT_CFG, data_root='/elsewhere/', img_prefix='pics/')
    inferencer = FewShotDetInferencer(path, weights=None, device='cpu', show_progress=False)
    assert not has_references(inferencer.cfg.to_dict())
    assert config_image_dirs(inferencer.cfg) == ['/elsewhere/pics/']


def test_stale_copies_of_an_overridden_top_level_key():
    cfg = Config(dict(data_root='/new/', classes=('c', ), a=dict(data_root='data/x/'),
                      ev=dict(ann_file='data/x/ann/v.json', groups=['a', 'b']),
                      other='data/y/', n=3, scale=(9, 9), p=[dict(scale=(5, 5)), (1, 1)]))
    old = dict(data_root='data/x/', classes=('a', 'b'), n=2, other='data/y/', scale=(5, 5))
    assert stale_copies(cfg, old) == {'data_root': ['a.data_root', 'ev.ann_file'],
                                      'classes': ['ev.groups'], 'scale': ['p.0.scale']}


def test_load_config_warns_of_copies_an_override_leaves(monkeypatch):
    """A config without references (the toy one): --cfg-options data_root
    leaves the datasets on the old root; the warning names every field."""
    import mmfsod.utils.tools as tools
    logged = []
    monkeypatch.setattr(tools, 'print_log', lambda msg, **kw: logged.append(msg))
    path = osp.join(REPO, 'configs', 'gcn_fsod', 'toy', 'gcn-fsod_r18_c4_toy_base-training.py')
    load_config(path, {'data_root': '/x/', 'val_dataloader.dataset.data_root': '/x/'})
    (line, ) = logged
    assert line.startswith(f'{path}: --cfg-options data_root=... leaves ')
    assert 'train_dataloader.dataset.dataset.data_root' in line
    assert 'val_evaluator.ann_file' in line and 'val_dataloader' not in line
    assert line.endswith("on the old value 'data/toy_shapes/' (copied when the config was "
                         'read); set those fields too')
    logged.clear()
    load_config(osp.join(REPO, 'configs', 'gcn_fsod', 'custom', BASE_CFG), {'data_root': '/x/'})
    assert logged == []
