"""Set-up verification: the pinned stack imports and mmcv's compiled ops run
on this machine."""
import os.path as osp
import re

import pytest
import torch

from conftest import REPO, run_tool


def _pins():
    pins = {}
    with open(osp.join(REPO, 'requirements.txt')) as f:
        for line in f:
            m = re.match(r'^([A-Za-z0-9_\-]+)==([\w.]+)', line.strip())
            if m:
                pins[m.group(1).lower()] = m.group(2)
    return pins


@pytest.mark.parametrize('module', ['mmengine', 'mmcv', 'mmdet', 'mmpretrain'])
def test_pinned_versions(module):
    mod = __import__(module)
    assert mod.__version__ == _pins()[module], (
        f'{module} {mod.__version__} installed, requirements.txt pins '
        f'{_pins()[module]}: run `make setup`')


def test_mmcv_ops_nms_known_output():
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 9.], [5., 5., 15., 15.]])
    scores = torch.tensor([0.9, 0.95, 0.5])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    # box 1 (0.95) suppresses box 0 (IoU 0.9); box 2 overlaps box 1 by 0.16
    assert keep.tolist() == [1, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.95, 0.5]))


def test_mmcv_ops_roi_align_known_output():
    from mmcv.ops import roi_align
    # A linear ramp f(x, y) = x: bilinear RoIAlign of a box averages x over it.
    feat = torch.arange(16, dtype=torch.float32).repeat(16, 1)[None, None]  # (1,1,16,16)
    rois = torch.tensor([[0., 2., 2., 10., 10.]])  # (batch_idx, x1, y1, x2, y2)
    out = roi_align(feat, rois, output_size=(2, 2), spatial_scale=1.0,
                    sampling_ratio=2, pool_mode='avg', aligned=True)
    # aligned=True shifts by -0.5: bins cover x in [1.5, 5.5] and [5.5, 9.5]
    expected = torch.tensor([[[[3.5, 7.5], [3.5, 7.5]]]])
    assert torch.allclose(out, expected, atol=1e-5)


def test_mmfsod_import_activates_compat():
    import mmfsod
    from mmengine.runner.checkpoint import CheckpointLoader
    assert mmfsod.__version__
    assert hasattr(CheckpointLoader.load_checkpoint, '__wrapped__')


def test_check_env_script():
    proc = run_tool(['tools/misc/check_env.py'])
    assert proc.returncode == 0, proc.stdout
    for name in ('torch', 'mmcv', 'mmdet', 'mmpretrain', 'mmfsod'):
        assert re.search(rf'^{name}\s', proc.stdout, re.M), proc.stdout
    assert 'ops OK' in proc.stdout
