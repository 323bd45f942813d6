"""Fresh query-support draws every pass (issue 12): the pass samplers, the
(seed, pass, idx) draws across workers and ranks, and K-shot pairs (up to K
distinct supports, the repeats left out of the detector's mean)."""
import pytest
import torch
from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch.utils.data import DataLoader

from mmfsod.detection.datasets import PassDefaultSampler, PassInfiniteSampler
from mmfsod.detection.datasets.query_support import draw_key

from conftest import REPO, fsod_toy_config

TOY_BASE = f'{REPO}/configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py'


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')
    import mmfsod.detection  # noqa: F401


def build(root, name='base-training', **changes):
    changes.setdefault('train_dataloader.dataset.num_support_shots', 2)
    cfg = fsod_toy_config(name, root, **changes)
    return DATASETS.build(cfg.train_dataloader.dataset)


def signature(item) -> tuple:
    """What an item is: query, class, flip, the supports and their pixels."""
    s = item['data_samples']
    return (s.img_id, s.query_class, bool(s.flip), tuple(s.support_instances.ann_ids.tolist()),
            int(item['inputs'].sum()), int(item['support_inputs'].sum()))


def test_draw_keys_keep_pass_zero_and_never_collide():
    assert draw_key(3, 7) == [3, 7] and draw_key(3, 7, 1) == [3, 7, 1]
    keys = {tuple(draw_key(0, i, s, p)) for i in range(5) for s in (0, 1) for p in range(4)}
    assert len(keys) == 5 * 2 * 4


def test_pass_zero_is_an_int_index_and_passes_differ(fsod_toy_root):
    ds = build(fsod_toy_root)
    n = len(ds)
    assert ds.sample_pair(3) == ds.sample_pair((0, 3))
    assert signature(ds[3]) == signature(ds[(0, 3)])
    pairs = [[ds.sample_pair((p, i)) for i in range(n)] for p in range(2)]
    # a pass again is the same pass (reproducible)
    assert pairs[1][:5] == [ds.sample_pair((1, i)) for i in range(5)]
    # pass 1 draws other pairs: class, negatives or supports of most items
    changed = sum(a != b for a, b in zip(*pairs))
    assert changed > n // 2, (changed, n)
    assert {d['query_class'] for d in pairs[1]} == {d['query_class'] for d in pairs[0]}
    # ... and other augmentation: the query flip follows the pass
    flips = [[bool(ds[(p, i)]['data_samples'].flip) for i in range(12)] for p in range(2)]
    assert flips[0] != flips[1]


def test_pass_samplers_yield_passes(fsod_toy_root, monkeypatch):
    ds = build(fsod_toy_root)
    n = len(ds)
    stream = PassInfiniteSampler(ds, shuffle=True, seed=0)
    first = [next(stream.indices) for _ in range(3 * n)]
    for p in range(3):
        chunk = first[p * n:(p + 1) * n]
        assert {q for q, _ in chunk} == {p}
        assert sorted(i for _, i in chunk) == list(range(n))  # a permutation
    assert [i for _, i in first[:n]] != [i for _, i in first[n:2 * n]]
    # 2 ranks slice the same stream: together they are the 1-rank stream
    ranks = []
    for rank in (0, 1):
        monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda r=rank: (r, 2))
        sampler = PassInfiniteSampler(ds, shuffle=True, seed=0)
        ranks.append([next(sampler.indices) for _ in range(3 * n // 2)])
    assert [x for pair in zip(*ranks) for x in pair] == first[:2 * (3 * n // 2)]
    monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda: (0, 1))
    epochs = PassDefaultSampler(ds, shuffle=True, seed=0)
    epochs.set_epoch(4)
    indices = list(epochs)
    assert {p for p, _ in indices} == {4} and sorted(i for _, i in indices) == list(range(n))


@pytest.mark.parametrize('persistent', [False, True])
def test_same_pass_same_items_across_workers(fsod_toy_root, persistent):
    """Through mmdet's AspectRatioBatchSampler and 0 or 2 worker processes
    (persistent or not), the items of 2.5 passes are the same; the second
    pass's item of an index is not the first pass's."""
    ds = build(fsod_toy_root, **{'train_dataloader.dataset.dataset.indices': 6})
    n = len(ds)
    runs = []
    for workers in (0, 2):
        batches = AspectRatioBatchSampler(PassInfiniteSampler(ds, shuffle=True, seed=1), 2)
        loader = DataLoader(ds, batch_sampler=batches, num_workers=workers,
                            persistent_workers=persistent and workers > 0,
                            collate_fn=pseudo_collate)
        items, it = [], iter(loader)
        while len(items) < 5 * n // 2:
            batch = next(it)
            items += [signature(dict(inputs=x, data_samples=s, support_inputs=sup))
                      for x, s, sup in zip(batch['inputs'], batch['data_samples'],
                                           batch['support_inputs'])]
        runs.append(items)
        del it, loader
    assert runs[0] == runs[1]
    by_pass = [{(s[0], s[1], s[3]) for s in
                (signature(ds[(p, i)]) for i in range(n))} for p in range(2)]
    assert by_pass[0] != by_pass[1]


def test_bad_pass_inputs(fsod_toy_root):
    ds = build(fsod_toy_root)
    with pytest.raises(TypeError, match='ToyShapesDataset does not read'):
        PassInfiniteSampler(ds.dataset, seed=0)
    with pytest.raises(TypeError, match='ToyShapesDataset does not read'):
        PassDefaultSampler(ds.dataset, seed=0)
    with pytest.raises(TypeError, match=r'QuerySupportDataset index .*\(-1, 2\)'):
        ds[(-1, 2)]
    with pytest.raises(TypeError, match='QuerySupportDataset index'):
        ds['3']
    with pytest.raises(IndexError, match='QuerySupportDataset index'):
        ds[(2, len(ds))]
    with pytest.raises(ValueError, match='num_support_shots=None.*ToyShapesDataset has none'):
        build(fsod_toy_root, **{'train_dataloader.dataset.num_support_shots': None})
    with pytest.raises(ValueError, match='num_support_shots must be an integer'):
        build(fsod_toy_root, **{'train_dataloader.dataset.num_support_shots': 0})


# ------------------------------------------------------------ K-shot pairs
def kshot(root, shot=5):
    return build(root, 'fine-tuning', **{
        'train_dataloader.dataset.num_support_shots': None,
        'train_dataloader.dataset.dataset.few_shot_ann.shot': shot})


def test_fine_tuning_pairs_take_up_to_k_distinct_supports(fsod_toy_root):
    ds = kshot(fsod_toy_root, shot=5)
    assert ds.num_support_shots == 5  # K of the K-shot files
    pool_imgs = {c: list(v) for c, v in ds.support_pool_img_ids.items()}
    saw_fill = False
    for idx in range(len(ds.query_indices)):
        draw = ds.sample_pair(idx)
        query_img = ds.query_img_ids[idx]
        assert len(draw['supports']) == 2 * 5 == len(draw['is_repeat'])
        for k, cls in enumerate((draw['supports'][0][0], draw['supports'][5][0])):
            slots = draw['supports'][5 * k:5 * k + 5]
            repeat = draw['is_repeat'][5 * k:5 * k + 5]
            refs = [ref for _, ref, _ in slots]
            distinct = [r for r, rep in zip(refs, repeat) if not rep]
            assert len(set(distinct)) == len(distinct)  # no instance twice
            assert set(refs) == set(distinct)  # a repeat repeats a drawn one
            own = sum(img == query_img for img in pool_imgs[cls])
            available = len(pool_imgs[cls]) - own if k == 0 else len(pool_imgs[cls])
            assert len(distinct) == min(5, available or len(pool_imgs[cls])), (idx, cls)
            assert repeat == sorted(repeat)  # the fills come last
            saw_fill |= any(repeat)
    assert saw_fill  # the K-shot set has positives with fewer than K other instances
    item = ds[0]
    info = item['data_samples'].support_instances
    rep = info.is_repeat
    assert rep.dtype == torch.bool and rep.shape == (10, )


def test_training_mean_is_the_test_mean_of_the_distinct_supports(fsod_toy_root):
    """A pair's support features in training are _class_feats' template
    features of its distinct supports (eval mode, so BN is per sample)."""
    ds = kshot(fsod_toy_root, shot=5)
    idx = next(i for i in range(len(ds.query_indices)) if any(ds.sample_pair(i)['is_repeat']))
    item = ds[idx]
    cfg = Config.fromfile(TOY_BASE)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    data = model.data_preprocessor(pseudo_collate([item]), False)
    info = item['data_samples'].support_instances
    with torch.no_grad():
        query = model.extract_feat(data['inputs'])
        _, maps, rois, _, _ = model._make_pairs(query, data['data_samples'],
                                                data['support_inputs'])
        for p, cls in enumerate(dict.fromkeys(info.labels.tolist())):
            keep = (info.labels == cls) & ~info.is_repeat
            templates = InstanceData(bboxes=info.bboxes[keep])
            model.set_support_templates({cls: (item['support_inputs'][keep], templates)})
            feats = model._class_feats()
            torch.testing.assert_close(maps[p], feats['maps'][0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(rois[p], feats['rois'][0], rtol=1e-5, atol=1e-5)
        # the control: a mean over every slot (repeats counted twice) differs
        allmaps, _ = model._support_feats(data['support_inputs'][0], info.bboxes)
        pos = info.labels == info.labels[0]
        assert info.is_repeat[pos].any()  # negatives have their K instances
        assert not torch.allclose(allmaps[pos].mean(0), maps[0], atol=1e-5)


def test_configs_k_shot_defaults():
    for name, k in (('toy/gcn-fsod_r18_c4_toy_base-training.py', 10),
                    ('coco/gcn-fsod_r50_c4_4xb2_coco_base-training.py', 10),
                    ('toy/gcn-fsod_r18_c4_toy_10shot-fine-tuning.py', None),
                    ('coco/gcn-fsod_r50_c4_4xb2_coco_10shot-fine-tuning.py', None),
                    ('coco/gcn-fsod_r50_c4_4xb2_coco_30shot-fine-tuning.py', None)):
        cfg = Config.fromfile(f'{REPO}/configs/gcn_fsod/{name}')
        assert cfg.train_dataloader.sampler.type == 'PassInfiniteSampler', name
        assert cfg.train_dataloader.dataset.num_support_shots == k, name
