"""The own-dataset path of docs/custom_dataset.md, end to end: a second
generated set with its own class names, in COCO format as a user's data
(own folders, own category ids), K-shot files by the project's tool, and
the template configs of configs/gcn_fsod/custom/ edited in paths and class
names only: base training, fine-tuning and test, a few iterations each."""
import json
import os
import os.path as osp
import re
import shutil

import pytest
import torch

from conftest import REPO, run_tool

# The toy categories under other names (and other category ids): nothing of
# the toy shapes' names or ids is left for a config to fall back on.
NEW_NAMES = ('apple', 'bolt', 'cog', 'drum', 'egg', 'fan', 'gem', 'hat', 'ink', 'jar',
             'kite', 'leaf')
NOVEL = ('cog', 'fan', 'ink')
BASE = tuple(n for n in NEW_NAMES if n not in NOVEL)


def write_user_dataset(src: str, dst: str) -> None:
    """``src`` (a generated toy set) as a user's COCO data under ``dst``:
    ``images/{train,val}/*.jpg``, ``annotations/{train,val}.json`` with
    NEW_NAMES as categories (ids 101.. in reverse order)."""
    for split in ('train', 'val'):
        with open(osp.join(src, 'annotations', f'instances_{split}.json')) as f:
            coco = json.load(f)
        new_id = {c['id']: 100 + len(NEW_NAMES) - i for i, c in enumerate(coco['categories'])}
        cats = [dict(id=new_id[c['id']], name=NEW_NAMES[i], supercategory='thing')
                for i, c in enumerate(coco['categories'])][::-1]
        images = []
        for im in coco['images']:
            name = f'{split}/img_{im["id"]:04d}.jpg'
            os.makedirs(osp.join(dst, 'images', split), exist_ok=True)
            shutil.copy(osp.join(src, im['file_name']), osp.join(dst, 'images', name))
            images.append(dict(im, file_name=name))
        anns = [dict(a, category_id=new_id[a['category_id']]) for a in coco['annotations']]
        os.makedirs(osp.join(dst, 'annotations'), exist_ok=True)
        with open(osp.join(dst, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=cats), f)


def edit_template(folder: str, data_root: str) -> None:
    """What a user edits: the paths and the class names of custom_dataset.py."""
    path = osp.join(folder, 'custom_dataset.py')
    with open(path) as f:
        text = f.read()
    edits = {'data_root': repr(data_root), 'base_classes': repr(BASE),
             'novel_classes': repr(NOVEL)}
    for key, value in edits.items():
        text, n = re.subn(rf'^{key} = .*$', f'{key} = {value}', text, count=1, flags=re.M)
        assert n == 1, key
    with open(path, 'w') as f:
        f.write(text)


# Shrunk for the test: iterations, workers, query size, shots (the K-shot
# files hold 2).
FAST = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'train_dataloader.dataset.dataset.pipeline.2.scale=(160,160)',
        'val_dataloader.dataset.pipeline.1.scale=(160,160)',
        'test_dataloader.dataset.pipeline.1.scale=(160,160)',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


@pytest.fixture
def user_data(tmp_path):
    from mmfsod.utils.toy_shapes import generate_toy_shapes
    src = str(tmp_path / 'generated')
    generate_toy_shapes(src, num_train=24, num_val=3, min_size=128, max_size=144, seed=3)
    root = str(tmp_path / 'my_dataset') + '/'
    write_user_dataset(src, root)
    shutil.rmtree(src)
    return root


def test_custom_template_base_training_fine_tuning_test(user_data, tmp_path):
    root = user_data
    res = run_tool(['tools/data/prepare_few_shot_split.py', '--ann',
                    osp.join(root, 'annotations', 'train.json'), '--seeds', '0',
                    '--shots', '2', '--out', osp.join(root, 'few_shot_ann'),
                    '--allow-fewer'])
    assert res.returncode == 0, res.stdout[-3000:]
    # a copy of the template folder (and the _base_ files it inherits)
    folder = str(tmp_path / 'configs' / 'gcn_fsod' / 'custom')
    shutil.copytree(osp.join(REPO, 'configs', 'gcn_fsod', 'custom'), folder)
    shutil.copytree(osp.join(REPO, 'configs', '_base_'), str(tmp_path / 'configs' / '_base_'))
    edit_template(folder, root)
    base_cfg = osp.join(folder, 'gcn-fsod_r18_c4_custom_base-training.py')
    ft_cfg = osp.join(folder, 'gcn-fsod_r18_c4_custom_10shot-fine-tuning.py')

    base_dir, ft_dir = tmp_path / 'base', tmp_path / 'ft'
    res = run_tool(['tools/train.py', base_cfg, '--work-dir', str(base_dir), '--cfg-options',
                    *FAST, 'custom_hooks.0.num_shots=2'])
    assert res.returncode == 0, res.stdout[-4000:]
    assert 'coco/base/bbox_mAP' in res.stdout
    base_ckpt = str(base_dir / 'iter_2.pth')
    meta = torch.load(base_ckpt, weights_only=False)['meta']['support_templates']
    assert sorted(meta['templates']) == sorted(BASE)

    res = run_tool(['tools/train.py', ft_cfg, '--work-dir', str(ft_dir), '--cfg-options',
                    *FAST, f'load_from={base_ckpt}',
                    'train_dataloader.dataset.dataset.few_shot_ann.shot=2'])
    assert res.returncode == 0, res.stdout[-4000:]
    ft_ckpt = str(ft_dir / 'iter_2.pth')
    meta = torch.load(ft_ckpt, weights_only=False)['meta']['support_templates']
    assert meta['classes'] == list(BASE + NOVEL)
    assert all(1 <= len(v) <= 2 for v in meta['templates'].values())

    res = run_tool(['tools/test.py', ft_cfg, ft_ckpt, '--work-dir', str(tmp_path / 'test'),
                    '--cfg-options', *[o for o in FAST if o.startswith('test_')]])
    assert res.returncode == 0, res.stdout[-4000:]
    assert 'support templates from the checkpoint' in res.stdout
    for group in ('novel', 'base', 'all'):
        assert f'coco/{group}/bbox_mAP_50' in res.stdout


def test_unedited_template_names_what_to_edit(tmp_path):
    """The template as shipped points at data that is not there: the error
    names the annotation file to provide."""
    res = run_tool(['tools/train.py', osp.join(REPO, 'configs', 'gcn_fsod', 'custom',
                                               'gcn-fsod_r18_c4_custom_base-training.py'),
                    '--work-dir', str(tmp_path / 'w'), '--cfg-options', *FAST])
    assert res.returncode != 0
    assert 'data/my_dataset/annotations/train.json' in res.stdout
