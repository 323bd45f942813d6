"""mmcv RoIAlign's 32-bit index bound: the element count and the largest safe
class chunk with the paper's numbers, the detector's automatic class
chunking under a lowered bound (same detections as one chunk), the errors."""
import os.path as osp

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmfsod.detection.datasets import build_template_supports, select_support_templates
from mmfsod.detection.models.utils import roi_align_bound
from mmfsod.detection.models.utils.roi_align_bound import (ROI_ALIGN_MAX_NUMEL,
                                                           check_roi_align_numel,
                                                           max_class_chunk, max_rois_per_call,
                                                           roi_align_numel)

from conftest import REPO, fsod_toy_config

COCO = osp.join(REPO, 'configs/gcn_fsod/coco/gcn-fsod_r50_c4_4xb2_coco_base-training.py')
TOY_BASE = osp.join(REPO, 'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py')


def test_bound_with_the_paper_numbers():
    """COCO configs: 100 proposals per pair, res4's 1024 channels, 14 x 14.
    80 classes x 1 image fit one RoIAlign call; x 2 images (3.2e9 elements)
    do not, and the class chunk drops to 53."""
    assert ROI_ALIGN_MAX_NUMEL == 2**31 - 2**21
    model = Config.fromfile(COCO).model
    rois_per_pair = model.test_cfg.rpn.max_per_img
    channels = model.roi_head.bbox_roi_extractor.out_channels
    size = model.roi_head.bbox_roi_extractor.roi_layer.output_size
    assert (rois_per_pair, channels, size) == (100, 1024, 14)
    assert roi_align_numel(rois_per_pair, channels, size) == 20_070_400
    assert max_rois_per_call(channels, size) == 10_689  # 106 pairs of 100
    assert roi_align_numel(80 * 1 * 100, channels, size) < 2**31
    assert roi_align_numel(80 * 2 * 100, channels, size) == 3_211_264_000 > 2**31
    assert max_class_chunk(1, rois_per_pair, channels, size) == 106
    assert max_class_chunk(2, rois_per_pair, channels, size) == 53
    assert max_class_chunk(4, rois_per_pair, channels, size) == 26
    # the largest safe chunk is safe, one more class is not
    for imgs in (1, 2, 4):
        safe = max_class_chunk(imgs, rois_per_pair, channels, size)
        assert roi_align_numel(safe * imgs * 100, channels, size) <= ROI_ALIGN_MAX_NUMEL
        assert roi_align_numel((safe + 1) * imgs * 100, channels, size) > ROI_ALIGN_MAX_NUMEL
    # 2000 proposals per pair (the training proposal count) at 64 images: none fits
    assert max_class_chunk(64, 2000, channels, size) == 0
    assert max_class_chunk(2, 100, 1024, (14, 7)) == 106  # (h, w) sizes


def test_check_names_the_keys():
    check_roi_align_numel(10_689, 1024, 14, 'here', 'lower x')  # at the bound: fine
    with pytest.raises(ValueError, match=r'here: RoIAlign over 10690 RoIs x 1024 channels '
                                         r'x 14x14 = 2,145,525,760 .*at most 10689 RoIs\); '
                                         r'lower x'):
        check_roi_align_numel(10_690, 1024, 14, 'here', 'lower x')


@pytest.fixture(scope='module')
def toy_model_and_batch(fsod_toy_root):
    """The toy GCN-FSOD model (random weights, every proposal kept) with 2-shot
    templates of its classes, and two preprocessed query images."""
    init_default_scope('mmdet')
    import mmfsod.detection  # noqa: F401
    cfg = fsod_toy_config('base-training', fsod_toy_root,
                          **{'train_dataloader.dataset.num_support_shots': 1})
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    model_cfg = Config.fromfile(TOY_BASE)
    model_cfg.merge_from_dict({'model.test_cfg.max_per_img': 10000,
                               'model.test_cfg.rcnn.score_thr': 0.0})
    torch.manual_seed(0)
    model = MODELS.build(model_cfg.model).eval()
    model.set_support_templates(build_template_supports(
        select_support_templates(ds, num_shots=2), cfg.support_pipeline,
        ds.metainfo['classes']))
    batch = pseudo_collate([ds[0], ds[1]])
    data = model.data_preprocessor(dict(inputs=batch['inputs'],
                                        data_samples=batch['data_samples']), False)
    return model, data['inputs'], data['data_samples']


def _predict_recording(model, inputs, samples):
    """Detections, and the element count of every query RoIAlign call."""
    calls = []
    extractor = model.roi_head.bbox_roi_extractor
    extract = extractor.forward

    def spy(feats, rois, *args, **kwargs):
        out = extract(feats, rois, *args, **kwargs)
        calls.append(out.numel())
        return out
    model._class_feats()  # the support RoIs, before recording
    extractor.forward = spy
    try:
        with torch.no_grad():
            preds = [r.pred_instances
                     for r in model.predict(inputs, [s.clone() for s in samples])]
    finally:
        del extractor.forward
    return preds, calls


def test_detector_chunks_classes_under_the_bound(toy_model_and_batch, monkeypatch):
    """A bound lowered to 2 classes' worth of RoIs at 2 images: the 9 (or
    so) classes are split into chunks of 2, every RoIAlign call stays below
    the bound, and the detections are those of one chunk of all classes."""
    model, inputs, samples = toy_model_and_batch
    num_classes = len(model._templates)
    assert num_classes >= 5
    model.class_chunk = num_classes
    whole, whole_calls = _predict_recording(model, inputs, samples)
    assert len(whole_calls) == 1  # all classes in one forward

    channels = model.extract_feat(inputs[:1]).shape[1]
    size = model.roi_head.roi_align_output_size()
    per_pair = roi_align_numel(model.rpn_head.test_cfg.max_per_img, channels, size)
    limit = 2 * 2 * per_pair + per_pair // 2  # 2 classes x 2 images (and a bit)
    monkeypatch.setattr(roi_align_bound, 'ROI_ALIGN_MAX_NUMEL', limit)
    assert model.test_class_chunk(2, channels) == 2
    assert model.test_class_chunk(1, channels) == 4
    chunked, chunked_calls = _predict_recording(model, inputs, samples)
    assert len(chunked_calls) == -(-num_classes // 2)
    assert max(chunked_calls) <= limit < sum(chunked_calls)

    def ordered(pred):
        order = torch.argsort(pred.scores, descending=True, stable=True)
        return pred.scores[order], pred.labels[order], pred.bboxes[order]
    for a, b in zip(whole, chunked):
        assert len(a) == len(b) > 0
        for x, y in zip(ordered(a), ordered(b)):
            torch.testing.assert_close(x.float(), y.float(), rtol=1e-4, atol=1e-4)
    assert len({lab for p in chunked for lab in p.labels.tolist()}) > 1

    # not even one class fits: the error names the config keys
    monkeypatch.setattr(roi_align_bound, 'ROI_ALIGN_MAX_NUMEL', 2 * per_pair - 1)
    with pytest.raises(ValueError, match=r'2 test images x model.test_cfg.rpn.max_per_img='
                                         r'\d+ .*batch_size'):
        model.predict(inputs, [s.clone() for s in samples])


def test_roi_head_checks_every_call(toy_model_and_batch, monkeypatch):
    """The RoI head's own check (training, direct calls): a call past the
    bound raises before pooling, naming the keys."""
    model, _, _ = toy_model_and_batch
    head = model.roi_head
    x = (torch.randn(1, 8, 16, 16), )
    rois = torch.tensor([[0., 0., 0., 8., 8.]] * 3)  # (3, 5)
    support = torch.randn(1, 4, 2, 2)
    size = head.roi_align_output_size()
    monkeypatch.setattr(roi_align_bound, 'ROI_ALIGN_MAX_NUMEL', roi_align_numel(2, 8, size))
    with pytest.raises(ValueError, match=r'AttentiveRoIHead \(query RoIs\): RoIAlign over 3 '
                                         r'RoIs.*model.class_chunk.*train_cfg.rcnn.sampler.num'):
        head._bbox_forward(x, rois, support)
    with pytest.raises(ValueError, match=r'AttentiveRoIHead \(support RoIs\)'):
        head.support_roi_feats(torch.randn(3, 8, 16, 16), torch.tensor([[0., 0., 8., 8.]] * 3))
