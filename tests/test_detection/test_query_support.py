"""Tests of the query-support wrapper and the support transforms."""
import math

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.dataset import Compose, DefaultSampler, pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from mmfsod.detection.datasets import QuerySupportDataset
from mmfsod.detection.datasets.query_support import support_instance_info

from conftest import fsod_toy_config, run_tool


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def build(root, name='base-training', **changes):
    cfg = fsod_toy_config(name, root, **changes)
    return DATASETS.build(cfg.train_dataloader.dataset), cfg


def test_pairing_rules(fsod_toy_root):
    ds, _ = build(fsod_toy_root, **{'train_dataloader.dataset.num_support_ways': 3,
                                    'train_dataloader.dataset.num_support_shots': 2,
                                    'train_dataloader.dataset.repeat': 3})
    assert len(ds) == 3 * len(ds.query_indices)
    single_image = {k for k, v in ds.support_img_ids.items() if len(v) == 1}
    negatives_used = set()
    for idx in range(len(ds)):
        draw = ds.sample_pair(idx)
        info = ds.dataset.get_data_info(draw['query_index'])
        present = {inst['bbox_label'] for inst in info['instances']}
        assert draw['query_class'] in present
        labels = [lab for lab, _, _ in draw['supports']]
        assert len(labels) == 3 * 2
        assert labels[:2] == [draw['query_class']] * 2  # positives first
        for label, (i, j), is_pos in draw['supports']:
            src = ds.support_dataset.get_data_info(i)
            assert src['instances'][j]['bbox_label'] == label
            if is_pos:
                assert label == draw['query_class']
                if label not in single_image:  # avoidable: never the query itself
                    assert src['img_id'] != info['img_id']
            else:
                assert label not in present  # a negative never appears in the query
                negatives_used.add(label)
        assert len(set(labels[2:])) == 2  # two distinct negative classes
    assert len(negatives_used) > 3  # negatives vary


def test_item_content_and_reproducibility(fsod_toy_root):
    ds, _ = build(fsod_toy_root, **{'train_dataloader.dataset.num_support_shots': 2})
    again, _ = build(fsod_toy_root, **{'train_dataloader.dataset.num_support_shots': 2})
    other_seed, _ = build(fsod_toy_root, **{'train_dataloader.dataset.num_support_shots': 2,
                                            'train_dataloader.dataset.seed': 1})
    differs = 0
    for idx in range(6):
        item = ds[idx]
        sample = item['data_samples']
        pos = sample.query_class
        assert (sample.gt_instances.labels == pos).all() and len(sample.gt_instances)
        sup = item['support_inputs']
        assert sup.shape == (4, 3, 96, 96) and sup.dtype == torch.uint8
        info = sample.support_instances
        assert info.labels.tolist()[:2] == [pos, pos]
        assert info.is_positive.tolist() == [True, True, False, False]
        twin = again[idx]
        assert torch.equal(twin['support_inputs'], sup)
        assert torch.equal(twin['inputs'], item['inputs'])
        assert torch.equal(twin['data_samples'].support_instances.ann_ids, info.ann_ids)
        differs += not torch.equal(other_seed[idx]['data_samples'].support_instances.ann_ids,
                                   info.ann_ids)
    assert differs > 0


@pytest.mark.parametrize('context', [0.0, 0.5])
def test_support_crop_resize_pad(fsod_toy_root, context):
    """A support is the (widened) box cut from the image, resized so that its
    longer side is 96, at the top left of a 96 x 96 canvas that normalises to
    zero."""
    ds, cfg = build(fsod_toy_root)
    pipeline = cfg.support_pipeline
    pipeline[2]['context'] = context
    pipeline = Compose(pipeline)
    src = ds.support_dataset.get_data_info(3)
    for j, inst in enumerate(src['instances']):
        out = pipeline(support_instance_info(src, j))
        img = cv2.imread(src['img_path'])  # (H, W, 3) BGR
        x1, y1, x2, y2 = inst['bbox']
        mx, my = context * (x2 - x1), context * (y2 - y1)
        cx1, cy1 = max(0, math.floor(x1 - mx)), max(0, math.floor(y1 - my))
        cx2 = min(img.shape[1], math.ceil(x2 + mx))
        cy2 = min(img.shape[0], math.ceil(y2 + my))
        crop = img[cy1:cy2, cx1:cx2]
        scale = 96 / max(crop.shape[:2])
        w, h = int(crop.shape[1] * scale + 0.5), int(crop.shape[0] * scale + 0.5)
        assert max(w, h) == 96
        expected = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
        got = out['inputs'].permute(1, 2, 0).numpy()  # (96, 96, 3)
        assert got.shape == (96, 96, 3)
        np.testing.assert_array_equal(got[:h, :w], expected)
        # padded with the mean pixel: zero once the preprocessor normalises
        pad = np.array(cfg.support_pad_bgr).round().astype(np.uint8)
        assert (got[h:] == pad).all() and (got[:, w:] == pad).all()
        assert out['data_samples'].support_crop.tolist() == [cx1, cy1, cx2, cy2]
        box = out['data_samples'].gt_instances.bboxes.tensor[0]
        assert box[2] <= w + 1e-3 and box[3] <= h + 1e-3


def test_two_ranks_and_workers_disjoint_reproducible(fsod_toy_root, monkeypatch):
    ds, _ = build(fsod_toy_root)
    seen = []
    for rank in (0, 1):
        monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda r=rank: (r, 2))
        # round_up=False: no padding repeats, so the two ranks must not overlap
        sampler = DefaultSampler(ds, shuffle=True, seed=0, round_up=False)
        indices = list(sampler)
        loader = DataLoader(ds, batch_size=2, sampler=indices, num_workers=2,
                            collate_fn=pseudo_collate)
        items = []
        for batch in loader:
            for s, sup in zip(batch['data_samples'], batch['support_inputs']):
                items.append((s.img_id, s.query_class,
                              tuple(s.support_instances.ann_ids.tolist()), sup.sum().item()))
        # the same items as read in this process, in sampler order
        direct = []
        for idx in indices:
            item = ds[idx]
            s = item['data_samples']
            direct.append((s.img_id, s.query_class,
                           tuple(s.support_instances.ann_ids.tolist()),
                           item['support_inputs'].sum().item()))
        assert items == direct
        seen.append(set(indices))
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(len(ds)))


def test_skipped_queries_counted(fsod_toy_root):
    ds, _ = build(fsod_toy_root, **{'train_dataloader.dataset.dataset.filter_cfg': None})
    src = ds.dataset
    empty = sum(not src.get_data_info(i)['instances'] for i in range(len(src)))
    assert empty > 0 and ds.num_skipped_queries == empty
    assert len(ds.query_indices) == len(src) - empty


def test_small_instances_are_query_truth_but_not_supports(fsod_toy_root):
    """min_support_area keeps small boxes out of the support pool only: they
    stay in the query's ground truth, their class counts as present (never a
    negative of that query), and the test templates follow the same limit."""
    from mmfsod.detection.datasets import select_support_templates
    from mmfsod.detection.datasets.query_support import box_area
    ds, _ = build(fsod_toy_root, **{'train_dataloader.dataset.min_support_area': 0})
    areas = sorted(box_area(inst['bbox']) for i in range(len(ds.support_dataset))
                   for inst in ds.support_dataset.get_data_info(i)['instances'])
    limit = areas[len(areas) // 3]  # about a third of the instances are below
    small, _ = build(fsod_toy_root,
                     **{'train_dataloader.dataset.min_support_area': limit})
    below = sum(a < limit for a in areas)
    assert small.num_small_supports == below > 0
    assert sum(map(len, small.support_pool.values())) == len(areas) - below
    for refs in small.support_pool.values():
        for i, j in refs:
            bbox = small.support_dataset.get_data_info(i)['instances'][j]['bbox']
            assert box_area(bbox) >= limit
    # the queries and what is present in them do not change
    assert small.query_present == ds.query_present
    small_classes = set()
    for idx in range(len(small)):
        draw = small.sample_pair(idx)
        info = small.dataset.get_data_info(draw['query_index'])
        present = {inst['bbox_label'] for inst in info['instances']}
        small_classes |= {inst['bbox_label'] for inst in info['instances']
                          if box_area(inst['bbox']) < limit}
        for label, _, is_pos in draw['supports']:
            assert is_pos or label not in present
    assert small_classes  # the check above met queries with small instances
    item = small[0]
    draw = small.sample_pair(0)
    info = small.dataset.get_data_info(draw['query_index'])
    n_truth = sum(inst['bbox_label'] == draw['query_class'] for inst in info['instances'])
    assert len(item['data_samples'].gt_instances) == n_truth
    templates = select_support_templates(small, num_shots=None)
    assert templates['min_area'] == limit
    assert all(box_area(r['bbox']) >= limit
               for rs in templates['templates'].values() for r in rs)
    assert (sum(map(len, templates['templates'].values()))
            == len(areas) - below)


def test_bad_arguments(fsod_toy_root):
    _, cfg = build(fsod_toy_root)
    qs = cfg.train_dataloader.dataset
    with pytest.raises(ValueError, match='num_support_ways'):
        QuerySupportDataset(dataset=qs.dataset, support_pipeline=qs.support_pipeline,
                            num_support_ways=0)
    with pytest.raises(ValueError, match='min_support_area'):
        QuerySupportDataset(dataset=qs.dataset, support_pipeline=qs.support_pipeline,
                            min_support_area=-1)
    no_pad = [t for t in qs.support_pipeline if t['type'] != 'Pad']
    ds = QuerySupportDataset(dataset=qs.dataset, support_pipeline=no_pad,
                             num_support_shots=3)
    with pytest.raises(ValueError, match='Pad'):
        for idx in range(len(ds)):
            ds[idx]
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_browse_tool_draws_items(fsod_toy_root, tmp_path):
    out = tmp_path / 'vis'
    opts = [f'train_dataloader.dataset.dataset.data_root={fsod_toy_root}',
            'train_dataloader.dataset.dataset.generate.num_train=40',
            'train_dataloader.dataset.dataset.generate.num_val=6',
            'train_dataloader.dataset.dataset.generate.min_size=128',
            'train_dataloader.dataset.dataset.generate.max_size=160',
            'train_dataloader.dataset.num_support_shots=2']
    res = run_tool(['tools/analysis_tools/browse_query_support.py',
                    'configs/_base_/datasets/fsod_toy-shapes_base-training.py',
                    '--num', '2', '--out-dir', str(out), '--cfg-options'] + opts)
    assert res.returncode == 0, res.stdout
    pictures = sorted(p.name for p in out.iterdir())
    assert pictures == ['item_00000.jpg', 'item_00001.jpg']
    img = cv2.imread(str(out / pictures[0]))
    assert img.shape[1] > 160 + 2 * 96  # query beside two supports


@pytest.mark.parametrize('config', [
    'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py',
    'configs/gcn_fsod/coco/gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py'])
def test_support_padding_normalises_to_zero(fsod_toy_root, config):
    """A support cut by the config's support pipeline (a wide box, so the
    square is padded below it) and normalised by the config's data
    preprocessor is 0 on the padding, to the uint8 rounding of the pad
    value; the object's pixels are not."""
    from mmengine.config import Config

    from conftest import REPO
    cfg = Config.fromfile(f'{REPO}/{config}')
    model = MODELS.build(dict(cfg.model.data_preprocessor))
    ds, _ = build(fsod_toy_root)
    src = ds.support_dataset.get_data_info(0)
    j = max(range(len(src['instances'])), key=lambda k: (
        lambda b: (b[2] - b[0]) / max(b[3] - b[1], 1e-6))(src['instances'][k]['bbox']))
    x1, y1, x2, y2 = src['instances'][j]['bbox']
    info = support_instance_info(src, j)
    # widen the box to twice its height, so that the crop is wider than high
    info['instances'][0]['bbox'] = [x1, y1, x1 + max(x2 - x1, 2 * (y2 - y1)), y2]
    out = Compose(cfg.support_pipeline)(info)
    x = model.normalize_supports(out['inputs'][None])[0]  # (3, s, s)
    size = x.shape[-1]
    meta = out['data_samples']
    cy1, cy2 = meta.support_crop[1], meta.support_crop[3]
    h = int(round((cy2 - cy1) * meta.scale_factor[1]))  # the resized crop's height
    assert h < size, (h, size)
    step = 0.5 / torch.as_tensor(model.std).min()  # half a grey level
    assert x[:, h:].abs().max() <= step + 1e-6
    assert x[:, :h].abs().max() > 10 * step  # the crop itself is not padding
