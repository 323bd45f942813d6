"""LSPPatchDataset (training-set LSP patches from JSON-lines records),
CropPatch and PatchSizeBatchSampler."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.dataset import DefaultSampler
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATA_SAMPLERS, DATASETS, TRANSFORMS

import mmfsod.classification  # noqa: F401  (registers the dataset, transform, sampler)

H0, W0 = 60, 80  # image files
H, W = 30, 40  # the network input the localizer saw (a 1/2 resize)


def coded_image(h, w, seed):
    """An image whose pixel (y, x) is (x, y, seed): crops are easy to check."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx, yy, np.full_like(xx, seed)], axis=-1).astype(np.uint8)


@pytest.fixture()
def records(tmp_path):
    """Two images with hand-written patch records (network input 30 x 40)."""
    paths = []
    for k in range(2):
        path = str(tmp_path / f'img{k}.png')  # lossless
        cv2.imwrite(path, coded_image(H, W, 10 + k))
        paths.append(path)
    lines = [
        dict(img_path=paths[0], sample_idx=0, input_size=[H, W], ori_shape=[H, W],
             gt_label=3, pred_label=3, branch='B63',
             patches=[dict(box=[0, 0, 10, 10], activation=2.0),
                      dict(box=[30, 20, 40, 30], activation=1.0),
                      dict(box=[5, 8, 17, 20], activation=0.5)]),
        dict(img_path=paths[1], sample_idx=1, input_size=[H, W], ori_shape=[H, W],
             gt_label=1, pred_label=0, branch='B95',
             patches=[dict(box=[12, 4, 26, 18], activation=0.7)]),
    ]
    return tmp_path, paths, lines


def write_jsonl(path, lines):
    with open(path, 'w') as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + '\n')
    return str(path)


def build_dataset(ann_file, pipeline=None, **kwargs):
    init_default_scope('mmpretrain')
    if pipeline is None:
        pipeline = [dict(type='LoadImageFromFile'), dict(type='CropPatch'),
                    dict(type='PackInputs')]
    return DATASETS.build(dict(type='LSPPatchDataset', ann_file=ann_file,
                               pipeline=pipeline, **kwargs))


def test_items_are_the_patches_with_their_image_label(records):
    root, paths, lines = records
    ds = build_dataset(write_jsonl(root / 'p.jsonl', lines))
    assert len(ds) == 4
    expect = [(paths[0], 3, [0, 0, 10, 10]), (paths[0], 3, [30, 20, 40, 30]),
              (paths[0], 3, [5, 8, 17, 20]), (paths[1], 1, [12, 4, 26, 18])]
    for idx, (path, label, box) in enumerate(expect):
        info = ds.get_data_info(idx)
        assert (info['img_path'], info['gt_label'], info['patch_box']) == (
            path, label, box)
        assert info['patch_size'] == (box[3] - box[1], box[2] - box[0])
        assert info['input_size'] == (H, W)
        item = ds[idx]
        x1, y1, x2, y2 = box
        img = item['inputs'].permute(1, 2, 0).numpy()  # (h, w, 3) BGR as read
        assert img.shape == (y2 - y1, x2 - x1, 3)
        # the coded pixels: channel 0 = x, channel 1 = y, channel 2 = image
        assert np.array_equal(img[..., 0], np.tile(np.arange(x1, x2), (y2 - y1, 1)))
        assert np.array_equal(img[..., 1],
                              np.tile(np.arange(y1, y2)[:, None], (1, x2 - x1)))
        assert np.all(img[..., 2] == 10 + paths.index(path))
        assert int(item['data_samples'].gt_label) == label
    assert ds.get_gt_labels().tolist() == [3, 3, 3, 1]
    # max_patches keeps the most activated patches of every image
    top1 = build_dataset(write_jsonl(root / 'p.jsonl', lines), max_patches=1)
    assert [top1.get_data_info(i)['patch_box'] for i in range(len(top1))] == \
        [[0, 0, 10, 10], [12, 4, 26, 18]]


def test_crop_after_the_localizer_resize(records):
    """Image files at 60 x 80, the localizer saw 30 x 40: the box is cropped
    from the image resized as the localizer's test pipeline did."""
    root, _, lines = records
    big = str(root / 'big.png')
    image = cv2.resize(coded_image(H, W, 7), (W0, H0), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(big, image)
    record = dict(lines[1], img_path=big)
    ann = write_jsonl(root / 'big.jsonl', [record])
    resize = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(W, H)),
              dict(type='CropPatch'), dict(type='PackInputs')]
    item = build_dataset(ann, pipeline=resize)[0]
    x1, y1, x2, y2 = record['patches'][0]['box']
    expected = cv2.resize(image, (W, H))[y1:y2, x1:x2]  # mmcv's bilinear resize
    assert np.array_equal(item['inputs'].permute(1, 2, 0).numpy(), expected)
    # without the resize the image is not the size the localizer saw
    with pytest.raises(ValueError, match=r'is 60x80 .* input_size \[30, 40\]'):
        build_dataset(ann)[0]


def test_crop_patch_transform_errors():
    init_default_scope('mmpretrain')
    crop = TRANSFORMS.build(dict(type='CropPatch'))
    img = np.zeros((20, 30, 3), np.uint8)
    out = crop(dict(img=img.copy(), patch_box=[2, 3, 12, 13]))
    assert out['img'].shape == (10, 10, 3) and out['img_shape'] == (10, 10)
    with pytest.raises(ValueError, match='outside the 20x30 image'):
        crop(dict(img=img.copy(), patch_box=[25, 0, 35, 10], img_path='a.jpg'))
    with pytest.raises(KeyError, match='patch_box'):
        crop(dict(img=img.copy()))


@pytest.mark.parametrize('change, match', [
    (lambda r: r.pop('patches'), r"line 2: missing key\(s\) \['patches'\]"),
    (lambda r: r.pop('input_size'), r"line 2: missing key\(s\) \['input_size'\]"),
    (lambda r: r.update(gt_label=None), 'line 2: gt_label is null'),
    (lambda r: r.update(gt_label=9), 'line 2: gt_label 9 is not a class index'),
    (lambda r: r.update(gt_label='cat'), "line 2: gt_label 'cat' is not a class index"),
    (lambda r: r['patches'].append(dict(activation=1.0)),
     'line 2: patch 1 has no "box"'),
    (lambda r: r['patches'].append(dict(box=[35, 0, 45, 10])),
     r'line 2: patch 1: box \[35, 0, 45, 10\] is empty or outside the 30x40'),
    (lambda r: r['patches'].append(dict(box=[0, 25, 10, 35])),
     'line 2: patch 1: box .* outside'),
    (lambda r: r['patches'].append(dict(box=[0, 0, 10])),
     'line 2: patch 1: box must be'),
    (lambda r: r.update(input_size=[30]), r'line 2: input_size must be \[H, W\]'),
])
def test_bad_records_name_file_line_and_key(records, change, match):
    root, _, lines = records
    bad = json.loads(json.dumps(lines[1]))
    change(bad)
    ann = write_jsonl(root / 'bad.jsonl', [lines[0], bad])
    with pytest.raises(ValueError, match=match) as info:
        build_dataset(ann, classes=[f'c{i}' for i in range(5)])
    assert 'bad.jsonl' in str(info.value)


def test_missing_file_and_bad_json(records):
    root, _, lines = records
    with pytest.raises(FileNotFoundError, match='nothere.jsonl'):
        build_dataset(str(root / 'nothere.jsonl'))
    ann = write_jsonl(root / 'broken.jsonl', [lines[0], '{"img_path": '])
    with pytest.raises(ValueError, match='broken.jsonl, line 2: not valid JSON'):
        build_dataset(ann)
    with pytest.raises(ValueError, match='max_patches'):
        build_dataset(write_jsonl(root / 'p.jsonl', lines), max_patches=0)


def test_patch_size_batch_sampler_batches_one_size(records):
    root, paths, _ = records
    sizes = [10, 14, 10, 10, 14, 18, 10, 14, 10]
    lines = [dict(img_path=paths[0], input_size=[H, W], gt_label=0,
                  patches=[dict(box=[0, 0, s, s])]) for s in sizes]
    ds = build_dataset(write_jsonl(root / 's.jsonl', lines))
    sampler = DefaultSampler(ds, shuffle=True, seed=0)
    batch_sampler = DATA_SAMPLERS.build(
        dict(type='PatchSizeBatchSampler'),
        default_args=dict(sampler=sampler, batch_size=2))
    batches = list(batch_sampler)
    for batch in batches:
        assert len({sizes[i] for i in batch}) == 1 and 1 <= len(batch) <= 2
    # sizes 10 (5 items), 14 (3), 18 (1): 3 full batches, then the incomplete
    # ones up to ceil(9 / 2) = 5 batches: one single-item batch is left out
    assert len(batch_sampler) == len(batches) == 5
    assert sum(len(b) == 2 for b in batches) == 3
    used = [i for b in batches for i in b]
    assert len(used) == len(set(used)) == len(sizes) - 1
    dropping = DATA_SAMPLERS.build(
        dict(type='PatchSizeBatchSampler', drop_last=True),
        default_args=dict(sampler=sampler, batch_size=2))
    assert len(dropping) == len(list(dropping)) == 4  # floor(9 / 2)
    with pytest.raises(ValueError, match='batch_size'):
        DATA_SAMPLERS.build(dict(type='PatchSizeBatchSampler'),
                            default_args=dict(sampler=sampler, batch_size=0))


def test_patch_size_batch_sampler_same_count_on_every_rank(records, monkeypatch):
    """Ranks group their own indices by size, yet every rank yields
    ceil(len(sampler) / batch_size) batches, so DDP ranks stay in step."""
    import mmengine.dataset.sampler as sampler_module
    root, paths, _ = records
    rng = np.random.default_rng(0)
    sizes = rng.choice([10, 14, 18], 61, p=[0.6, 0.3, 0.1]).tolist()
    lines = [dict(img_path=paths[0], input_size=[H, W], gt_label=0,
                  patches=[dict(box=[0, 0, s, s])]) for s in sizes]
    ds = build_dataset(write_jsonl(root / 'r.jsonl', lines))
    world = 4
    for seed in range(5):
        counts = []
        for rank in range(world):
            monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (rank, world))
            sampler = DefaultSampler(ds, shuffle=True, seed=seed)
            batches = list(DATA_SAMPLERS.build(dict(type='PatchSizeBatchSampler'),
                                               default_args=dict(sampler=sampler,
                                                                 batch_size=4)))
            assert all(len({sizes[i] for i in b}) == 1 for b in batches)
            counts.append(len(batches))
        assert counts == [-(-16 // 4)] * world  # ceil(61 / 4) = 16 indices per rank
    monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (0, 2))
    with pytest.raises(ValueError, match='round_up'):
        DATA_SAMPLERS.build(dict(type='PatchSizeBatchSampler'),
                            default_args=dict(sampler=DefaultSampler(ds, round_up=False),
                                              batch_size=4))


def test_ann_file_and_images_relative_to_roots(records):
    root, paths, lines = records
    rel = [dict(line, img_path=osp.basename(line['img_path'])) for line in lines]
    write_jsonl(root / 'rel.jsonl', rel)
    ds = build_dataset('rel.jsonl', data_root=str(root), data_prefix=str(root))
    assert ds.get_data_info(3)['img_path'] == paths[1]
    assert int(ds[3]['data_samples'].gt_label) == 1


def test_ann_file_glob_takes_the_newest_run(records):
    """The LSP hook writes <work_dir>/<timestamp>/<file>: a pattern picks the
    last match in sorted order."""
    root, _, lines = records
    for stamp, kept in (('20260101_000000', lines[:1]), ('20260102_000000', lines)):
        (root / stamp).mkdir()
        write_jsonl(root / stamp / 'lsp.jsonl', kept)
    ds = build_dataset(str(root / '*' / 'lsp.jsonl'))
    assert len(ds) == 4  # the 20260102 file
    with pytest.raises(FileNotFoundError, match='no file matches'):
        build_dataset(str(root / 'none*' / 'lsp.jsonl'))


def eager_infos(lines, max_patches=None):
    """The data infos as the dataset built them before the columns: one dict
    per patch, made while reading (the reference for the lazy table)."""
    infos = []
    for line_no, record in enumerate(lines, 1):
        H, W = record['input_size']
        for j, patch in enumerate(record['patches'][:max_patches]):
            x1, y1, x2, y2 = patch['box']
            infos.append(dict(img_path=record['img_path'], gt_label=record['gt_label'],
                              patch_box=[x1, y1, x2, y2], input_size=(H, W),
                              patch_size=(y2 - y1, x2 - x1), branch=record.get('branch'),
                              image_idx=record.get('sample_idx', line_no - 1), patch_idx=j,
                              activation=patch.get('activation')))
    return infos


def test_lazy_columns_give_the_eager_data_infos(tmp_path):
    """Random records (no sample_idx / branch / activation on some, empty
    patch lists, large boxes): every item, max_patches, the `indices` subsets
    and the labels are those of the dict-per-patch form."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(40):
        H, W = (int(v) for v in rng.integers(40, 40000, 2))
        patches = []
        for _ in range(int(rng.integers(0, 6))):
            x1, y1 = int(rng.integers(0, W - 1)), int(rng.integers(0, H - 1))
            patch = dict(box=[x1, y1, int(rng.integers(x1 + 1, W + 1)),
                              int(rng.integers(y1 + 1, H + 1))])
            if rng.random() < 0.8:
                patch['activation'] = float(rng.normal())
            patches.append(patch)
        record = dict(img_path=f'dir/é{i}.jpg', input_size=[H, W],
                      gt_label=int(rng.integers(0, 7)), patches=patches)
        if i % 3:
            record['sample_idx'] = 1000 + i
        if i % 4:
            record['branch'] = ['B63', 'B95', 'B111'][i % 3]
        lines.append(record)
    ann = write_jsonl(tmp_path / 'lazy.jsonl', lines)
    for max_patches in (None, 2):
        ds = build_dataset(ann, max_patches=max_patches, serialize_data=True)
        expect = eager_infos(lines, max_patches)
        assert len(ds) == len(expect) > 0
        for idx, info in enumerate(expect):
            assert ds.get_data_info(idx) == dict(info, sample_idx=idx)
        assert ds.get_data_info(-1) == dict(expect[-1], sample_idx=len(expect) - 1)
        assert ds.get_gt_labels().tolist() == [e['gt_label'] for e in expect]
        assert ds.get_gt_labels().dtype == np.int64
    expect = eager_infos(lines)
    for indices, picked in ((5, expect[:5]), (-3, expect[-3:]),
                            ([7, 2, 2, 30], [expect[k] for k in (7, 2, 2, 30)])):
        sub = build_dataset(ann, indices=indices)
        assert [sub.get_data_info(i) for i in range(len(sub))] == \
            [dict(e, sample_idx=i) for i, e in enumerate(picked)]
    full = build_dataset(ann)
    half = full.get_subset(list(range(0, len(full), 2)))
    assert [half.get_data_info(i)['patch_box'] for i in range(len(half))] == \
        [e['patch_box'] for e in expect[::2]]
    with pytest.raises(ValueError, match=r'lazy.jsonl, line 1: sample_idx must be an int'):
        build_dataset(write_jsonl(tmp_path / 'lazy.jsonl', [dict(lines[1], sample_idx='a')]))
