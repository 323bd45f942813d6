"""The toy VOC through the tools: GCN-FSOD base training, K-shot fine-tuning
from its checkpoint and the test, each a few iterations of tools/train.py /
tools/test.py on a 40-image toy set in VOC's layout (XML, image sets,
`difficult` boxes) with TFA's VOC K-shot files; the table of the VOC metric
has the novel / base / all groups."""
import os.path as osp
import re

import pytest

from conftest import REPO, run_tool

CONFIGS = osp.join(REPO, 'tests', 'data', 'configs')
BASE = osp.join(CONFIGS, 'gcn_fsod_voc_tiny_base-training.py')
FINE_TUNE = osp.join(CONFIGS, 'gcn_fsod_voc_tiny_fine-tuning.py')
# as tests/data/configs/_toy_voc_tiny_data.py's tiny_generate
TINY_VOC = dict(num_train=40, num_val=6, min_size=128, max_size=160, seed=0)


@pytest.fixture(scope='module')
def toy_voc_root(tmp_path_factory):
    """The tiny toy VOC set and TFA's VOC 2-shot files of seed 0 (drawn by
    the sampler: the toy has no Kang et al. sample) under ``vocsplit/``."""
    from mmfsod.detection.datasets import TOY_VOC_SPLIT, write_voc_few_shot_splits
    from mmfsod.utils.toy_voc import generate_toy_voc
    root = str(tmp_path_factory.mktemp('toy_voc') / 'toy_voc') + '/'
    generate_toy_voc(root, **TINY_VOC)
    write_voc_few_shot_splits([osp.join(root, 'VOC2007')], osp.join(root, 'vocsplit'),
                              seeds=[0], shots=[2], class_order=TOY_VOC_SPLIT['ALL_CLASSES'],
                              sample_seed0=True)
    return root


def test_base_fine_tune_test_through_the_tools(toy_voc_root, tmp_path):
    env = {'MMFSOD_TEST_TOY_VOC_ROOT': toy_voc_root}
    base_dir, ft_dir = tmp_path / 'base', tmp_path / 'ft'
    res = run_tool(['tools/train.py', BASE, '--work-dir', str(base_dir)], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    base_ckpt = base_dir / 'iter_3.pth'
    assert base_ckpt.is_file()

    res = run_tool(['tools/train.py', FINE_TUNE, '--work-dir', str(ft_dir),
                    '--cfg-options', f'load_from={base_ckpt}'], env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    assert f'Load checkpoint from {base_ckpt}' in res.stdout
    ft_ckpt = ft_dir / 'iter_3.pth'

    res = run_tool(['tools/test.py', FINE_TUNE, str(ft_ckpt), '--work-dir', str(ft_dir)],
                   env=env)
    assert res.returncode == 0, res.stdout[-4000:]
    values = dict(re.findall(r'pascal_voc/(\w+)/bbox_mAP_50: (-?[\d.]+)', res.stdout))
    assert set(values) == {'novel', 'base', 'all'}, res.stdout[-3000:]
    # the test set has ground truth of both groups (no -1 for an empty group)
    assert all(0 <= float(v) <= 1 for v in values.values()), values
    # the per-class table: 12 classes, each in its group
    rows = re.findall(r'^\| (\w+) +\| (novel|base) +\|', res.stdout, re.M)
    assert len(rows) == 12 and sum(g == 'novel' for _, g in rows) == 3, rows
