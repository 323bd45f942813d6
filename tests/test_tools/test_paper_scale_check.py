"""tools/analysis_tools/paper_scale_check.py: the generated paper-layout sets
(on tiny images), the overrides of a paper config, and (slow, not in the
default run) the tool itself on the AnchorNet rows."""
import json
import os.path as osp
import subprocess
import sys
from argparse import Namespace
from collections import Counter

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmfsod.detection.datasets.class_splits import COCO_SPLIT
from mmfsod.utils.paper_scale_data import (COCO_CATEGORY_IDS, LSP_BRANCHES, PaperCocoSpec,
                                           PaperImageNetSpec, generate_paper_coco,
                                           generate_paper_imagenet, write_lsp_records)

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'paper_scale_check.py')
sys.path.insert(0, osp.dirname(TOOL))
import paper_scale_check  # noqa: E402

# 4-6 objects (placed: about 4) in 40 images, dealt round-robin over 80 classes
TINY_COCO = PaperCocoSpec(num_train=40, num_test=2, min_width=128, max_width=160,
                          min_height=96, max_height=128, min_objects=4, max_objects=6,
                          shots=(1, 2))


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('paper') / 'coco')
    assert generate_paper_coco(root, TINY_COCO) == 'generated'
    assert generate_paper_coco(root, TINY_COCO) == 'exists'
    return root


def build_coco(root, **kwargs):
    from mmdet.registry import DATASETS

    import mmfsod.detection  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(dict(
            type='FewShotCocoDataset', data_root=root, data_prefix=dict(img=''),
            img_subdirs=dict(COCO_train2014_='train2014/', COCO_val2014_='val2014/'),
            pipeline=[], **kwargs))


def test_coco_layout_classes_and_k_shot_files(coco_root):
    with open(osp.join(coco_root, 'cocosplit/datasplit/trainvalno5k.json')) as f:
        train = json.load(f)
    assert [c['id'] for c in train['categories']] == list(COCO_CATEGORY_IDS)
    assert [c['name'] for c in train['categories']] == list(COCO_SPLIT['ALL_CLASSES'])
    names = {i['file_name'].split('2014_')[0] for i in train['images']}
    assert names == {'COCO_train', 'COCO_val'}  # TFA's trainvalno5k mixes both
    # every class present, each instance in its own image
    per_class = Counter(a['category_id'] for a in train['annotations'])
    assert set(per_class) == set(COCO_CATEGORY_IDS) and min(per_class.values()) >= 2
    pairs = [(a['image_id'], a['category_id']) for a in train['annotations']]
    assert len(pairs) == len(set(pairs))

    base = build_coco(coco_root, ann_file='cocosplit/datasplit/trainvalno5k.json',
                      classes='BASE_CLASSES')
    assert len(base.metainfo['classes']) == 60 and len(base) == 40
    assert all(osp.isfile(base.get_data_info(i)['img_path']) for i in range(len(base)))
    test = build_coco(coco_root, ann_file='cocosplit/datasplit/5k.json',
                      classes='NOVEL_CLASSES', test_mode=True)
    assert len(test.metainfo['classes']) == 20 and len(test) == 2
    assert all('/val2014/COCO_val2014_' in test.get_data_info(i)['img_path'] for i in range(2))
    # TFA's K-shot files of seed 0, read as the fine-tuning configs read them
    for shot in (1, 2):
        kshot = build_coco(coco_root, ann_file='', classes='ALL_CLASSES',
                           few_shot_ann=dict(root='cocosplit/', shot=shot, seed=0))
        labels = Counter(inst['bbox_label'] for i in range(len(kshot))
                         for inst in kshot.get_data_info(i)['instances'])
        assert labels == Counter({k: shot for k in range(80)})


def test_imagenet_layout_read_by_mmpretrain(tmp_path):
    from mmpretrain.registry import DATASETS
    spec = PaperImageNetSpec(num_train=4, num_val=3, num_holdout=2, min_size=112,
                             max_size=128)
    generate_paper_imagenet(str(tmp_path / 'in'), spec)
    for split, num in (('train', 4), ('val', 3)):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            ds = DATASETS.build(dict(type='ImageNet', data_root=str(tmp_path / 'in'),
                                     split=split, pipeline=[]))
        assert len(ds) == num and len(ds.metainfo['classes']) == 1000
        labels = [ds.get_data_info(i)['gt_label'] for i in range(num)]
        assert len(set(labels)) == num and all(0 <= v < 1000 for v in labels)
        assert all(osp.isfile(ds.get_data_info(i)['img_path']) for i in range(num))
    holdout = (tmp_path / 'in' / 'meta' / 'train_holdout.txt').read_text().splitlines()
    assert len(holdout) == 2


def test_lsp_records_read_by_the_patch_dataset(tmp_path):
    from mmpretrain.registry import DATASETS

    import mmfsod.classification  # noqa: F401
    images = [(f'img{i}.jpg', i * 7) for i in range(30)]
    path = str(tmp_path / 'r.jsonl')
    total = write_lsp_records(path, images)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ds = DATASETS.build(dict(type='LSPPatchDataset', ann_file=path, pipeline=[]))
    assert len(ds) == total
    k_of = {name: (rf, k) for name, rf, k, _ in LSP_BRANCHES}
    per_image = Counter(ds.get_data_info(i)['image_idx'] for i in range(len(ds)))
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        rf, k = k_of[info['branch']]
        assert info['patch_size'] == (rf, rf) and per_image[info['image_idx']] == k
        assert info['gt_label'] == images[info['image_idx']][1]


def test_overrides_of_a_paper_config(tmp_path):
    """Data roots, pretrained weights, validation and the per-GPU batch."""
    cfg = Config.fromfile(osp.join(REPO, paper_scale_check.GCN + 'base-training.py'))
    paths = paper_scale_check.data_paths(str(tmp_path))
    row = dict(name='gcn-base', mode='train')
    args = Namespace(workers=0, test_images=2)
    out = paper_scale_check.compute_overrides(cfg, row, paths, args)
    assert out['train_dataloader.dataset.dataset.data_root'] == paths['coco'] + '/'
    assert out['model.backbone.init_cfg'] is None
    assert out['model.roi_head.shared_head.init_cfg'] is None
    assert out['val_dataloader'] is None and out['load_from'] is None
    assert out['auto_scale_lr.keep_total_batch'] is False
    assert out['train_dataloader.num_workers'] == 0
    assert not any(k.startswith('val_dataloader.') for k in out)
    cfg.merge_from_dict(out)  # the overrides apply to the config
    assert cfg.train_dataloader.dataset.dataset.data_root == paths['coco'] + '/'
    test = paper_scale_check.compute_overrides(
        Config.fromfile(osp.join(REPO, paper_scale_check.GCN + '10shot-fine-tuning.py')),
        dict(name='t', mode='test', ckpt='gcn'), paths, args)
    assert test['test_dataloader.dataset.indices'] == 2
    assert test['test_evaluator.ann_file'] == paths['coco'] + '/cocosplit/datasplit/5k.json'


@pytest.mark.slow
def test_tool_runs_the_anchornet_rows(tmp_path):
    """The tool end to end on its cheapest rows (AnchorNet training, LSP)."""
    out = tmp_path / 'result.json'
    proc = subprocess.run(
        [sys.executable, TOOL, '--device', 'cpu', '--iters', '1', '--test-images', '1',
         '--workers', '0', '--rows', 'anchornet', 'anchornet-lsp', '--work-dir',
         str(tmp_path / 'w'), '--out', str(out)], capture_output=True, text=True,
        timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out.read_text())['rows']
    assert rows['anchornet']['status'] == 'ok' and rows['anchornet']['batch_seen'] == [32]
    assert len(rows['anchornet']['iter_s']) == 1
    assert rows['anchornet-lsp']['test_batch_n'] == [1]
    assert 'proj. h' in proc.stdout


def test_imagenet_patch_test_configs_build_a_test_runner():
    """tools/test.py on the ImageNet patch-test configs (found by this tool:
    they inherit the fine-tuning's train_dataloader, not its schedule, and
    had no test_cfg): every loop group is complete or left out, the test
    loop is there."""
    import glob
    import runpy
    drop = runpy.run_path(osp.join(REPO, 'tools', 'test.py'))['drop_incomplete_loops']
    configs = [c for c in glob.glob(osp.join(REPO, 'configs/anchornet/imagenet/downstream/*.py'))
               if '-ft_' not in c]
    assert len(configs) == 12
    for path in configs:
        cfg = Config.fromfile(path)
        drop(cfg)
        for group in (('train_dataloader', 'train_cfg', 'optim_wrapper'),
                      ('val_dataloader', 'val_cfg', 'val_evaluator'),
                      ('test_dataloader', 'test_cfg', 'test_evaluator')):
            assert len({cfg.get(k) is None for k in group}) == 1, (path, group)
        assert cfg.test_cfg is not None and cfg.test_dataloader is not None
