"""Damaged checkpoints and images (issue 16): one line naming the file and
what is wrong, a non-zero exit and no traceback from tools/train.py and
tools/test.py; auto-resume skips a damaged newest checkpoint; a corrupt
JPEG stops training naming file and dataset, or with skip_bad_images=True
is replaced, counted and logged."""
import os
import os.path as osp
import shutil
import struct
import zipfile

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO, fsod_toy_config, run_tool
from mmfsod.compat import (CorruptCheckpointError, checkpoint_problem,
                           find_latest_intact_checkpoint)
from mmfsod.utils.bad_images import BadImageError
from mmfsod.utils.toy_clutter import generate_toy_clutter

CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'anchornet_tiny.py')
CLUTTER = dict(num_train=12, num_val=6, num_classes=6, img_size=128, seed=0)


@pytest.fixture(scope='module')
def clutter(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('clutter') / 'toy_clutter') + '/'
    generate_toy_clutter(root, **CLUTTER)
    return root


def run(root, work_dir, **options):
    # A name of its own: two runners built in the same second would share
    # mmengine's logger (named after config and timestamp), and the second
    # run's log would go to the first one's file.
    run.count = getattr(run, 'count', 0) + 1
    old = os.environ.get('MMFSOD_TEST_CLUTTER_ROOT')
    os.environ['MMFSOD_TEST_CLUTTER_ROOT'] = root
    try:
        cfg = Config.fromfile(CONFIG)
        cfg.work_dir = str(work_dir)
        cfg.experiment_name = f'corrupt_files_{os.getpid()}_{run.count}'
        cfg.merge_from_dict(dict({'train_cfg.val_interval': 100}, **options))
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner
    finally:
        if old is None:
            os.environ.pop('MMFSOD_TEST_CLUTTER_ROOT')
        else:
            os.environ['MMFSOD_TEST_CLUTTER_ROOT'] = old


@pytest.fixture(scope='module')
def ckpt_dir(clutter, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('trained')
    run(clutter, work_dir, **{'train_cfg.max_epochs': 2})
    return work_dir


def truncate(src, dst, keep=0.5):
    with open(src, 'rb') as f:
        data = f.read()
    with open(dst, 'wb') as f:
        f.write(data[:int(len(data) * keep)])
    return str(dst)


def test_checkpoint_problem_names_what_is_wrong(ckpt_dir, tmp_path):
    good = str(ckpt_dir / 'epoch_1.pth')
    assert checkpoint_problem(good) is None
    assert 'truncated' in checkpoint_problem(truncate(good, tmp_path / 'cut.pth'))
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    assert 'not a PyTorch checkpoint' in checkpoint_problem(str(tmp_path / 'text.pth'))
    (tmp_path / 'empty.pth').write_bytes(b'')
    assert checkpoint_problem(str(tmp_path / 'empty.pth')) == 'is empty (0 bytes)'
    # one flipped byte inside a stored member's data: its CRC fails (the
    # byte is found from the member's local header; a byte in the padding
    # torch puts in the headers' extra field would pass every check)
    data = bytearray(open(good, 'rb').read())
    with zipfile.ZipFile(good) as archive:
        member = max(archive.infolist(), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack(
        '<HH', data[member.header_offset + 26:member.header_offset + 30])
    start = member.header_offset + 30 + name_len + extra_len
    data[start + member.compress_size // 2] ^= 0xFF
    (tmp_path / 'flipped.pth').write_bytes(bytes(data))
    assert 'damaged' in checkpoint_problem(str(tmp_path / 'flipped.pth'))


@pytest.mark.parametrize('entry', ['resume', 'load_from', 'test'])
def test_truncated_checkpoint_one_line_per_entry_point(clutter, ckpt_dir, tmp_path, entry):
    cut = truncate(ckpt_dir / 'epoch_1.pth', tmp_path / 'cut.pth')
    args = {'resume': ['tools/train.py', CONFIG, '--resume', cut],
            'load_from': ['tools/train.py', CONFIG, '--cfg-options', f'load_from={cut}'],
            'test': ['tools/test.py', CONFIG, cut]}[entry]
    env = {'MMFSOD_TEST_CLUTTER_ROOT': clutter, 'OMP_NUM_THREADS': '1'}
    proc = run_tool(args + ['--work-dir', str(tmp_path / 'w')], env=env)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert 'Traceback' not in proc.stdout, proc.stdout[-3000:]
    errors = [line for line in proc.stdout.splitlines() if line.startswith('error')]
    assert len(errors) == 1 and cut in errors[0] and 'truncated' in errors[0], errors
    if entry == 'resume':  # the traceback when asked for
        proc = run_tool(args + ['--work-dir', str(tmp_path / 'w'), '--debug'], env=env)
        assert proc.returncode == 1 and 'Traceback' in proc.stdout
        assert 'CorruptCheckpointError' in proc.stdout


def test_weights_only_file_to_resume_is_named(clutter, tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save(torch.zeros(3), path)
    with pytest.raises(CorruptCheckpointError, match=f'{path}.*holds a Tensor'):
        run(clutter, tmp_path / 'w', resume=True, load_from=path)


def test_auto_resume_skips_a_damaged_newest_checkpoint(clutter, ckpt_dir, tmp_path):
    work_dir = tmp_path / 'w'
    shutil.copytree(ckpt_dir, work_dir)
    newest = str(work_dir / 'epoch_2.pth')
    truncate(ckpt_dir / 'epoch_2.pth', newest, keep=0.3)
    with open(work_dir / 'last_checkpoint', 'w') as f:
        f.write(newest)
    assert find_latest_intact_checkpoint(str(work_dir)) == str(work_dir / 'epoch_1.pth')
    runner = run(clutter, work_dir, resume=True, **{'train_cfg.max_epochs': 2})
    assert runner.epoch == 2
    with open(runner.log_dir + '/' + osp.basename(runner.log_dir) + '.log') as f:
        log = f.read()
    assert f'skipped checkpoint {newest} is truncated' in log
    assert 'resumed epoch: 1' in log
    # nothing intact: an error, not a silent restart from scratch
    truncate(ckpt_dir / 'epoch_1.pth', work_dir / 'epoch_1.pth', keep=0.3)
    truncate(ckpt_dir / 'epoch_2.pth', newest, keep=0.3)
    with pytest.raises(CorruptCheckpointError, match='no intact checkpoint'):
        find_latest_intact_checkpoint(str(work_dir))


# ------------------------------------------------------------------ images
@pytest.fixture
def bad_clutter(clutter, tmp_path):
    root = str(tmp_path / 'bad_clutter') + '/'
    shutil.copytree(clutter, root)
    with open(osp.join(root, 'meta', 'train.txt')) as f:
        name = f.readline().split()[0]
    bad = osp.join(root, 'train', name)
    truncate(bad, bad, keep=0.3)
    return root, bad


def test_corrupt_jpeg_stops_training_naming_file_and_dataset(bad_clutter, tmp_path):
    root, bad = bad_clutter
    with pytest.raises(BadImageError, match=f'ToyClutterDataset: image {bad} cannot be '
                       'decoded.*skip_bad_images=True'):
        run(root, tmp_path, **{'train_cfg.max_epochs': 1})


def test_corrupt_jpeg_skipped_counted_and_logged(bad_clutter, tmp_path):
    root, bad = bad_clutter
    runner = run(root, tmp_path, **{'train_cfg.max_epochs': 2,
                                    'train_dataloader.dataset.skip_bad_images': True})
    dataset = runner.train_dataloader.dataset
    assert runner.epoch == 2 and dataset.num_bad_images == 2  # once per epoch
    with open(runner.log_dir + '/' + osp.basename(runner.log_dir) + '.log') as f:
        log = f.read()
    assert f'skip_bad_images: ToyClutterDataset: image {bad} cannot be decoded' in log
    assert '(2 replaced so far in this process)' in log


def test_query_support_bad_image_both_policies(fsod_toy_root, tmp_path):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    root = str(tmp_path / 'fsod') + '/'
    shutil.copytree(fsod_toy_root, root)
    cfg = fsod_toy_config('base-training', root)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    bad = dataset.get_data_info(0)['img_path']
    truncate(bad, bad, keep=0.3)
    with pytest.raises(BadImageError, match=f'QuerySupportDataset \\(of ToyShapesDataset\\): '
                       f'image {bad} cannot be decoded .*\\(the query of item 0\\)'):
        dataset[0]
    dataset.skip_bad_images = True
    item = dataset[0]
    # the query is replaced; with K-shot pairs the bad image can also be met
    # (and skipped, counted) as a support of the replacement pair
    assert item['data_samples'].img_path != bad and dataset.num_bad_images >= 1
    # the test set (no pairs): the detection dataset's own policy
    cfg.val_dataloader.dataset.data_root = root
    val = DATASETS.build(cfg.val_dataloader.dataset)
    val_bad = val.get_data_info(1)['img_path']
    truncate(val_bad, val_bad, keep=0.3)
    with pytest.raises(BadImageError, match=f'ToyShapesDataset: image {val_bad}'):
        val[1]
    val.skip_bad_images = True
    assert val[1]['data_samples'].img_path == val.get_data_info(2)['img_path']
    assert val.num_bad_images == 1
