"""tools/analysis_tools/anchornet_flops.py: the per-part table adds up, and
the parts that are easy to count by hand match."""
import json
import os.path as osp
import runpy

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS

from conftest import REPO, run_tool

TOY_CONFIG = osp.join(REPO, 'configs', 'anchornet', 'toy', 'anchornet_toy-clutter.py')


def test_flops_table_adds_up(tmp_path):
    out = tmp_path / 'flops.json'
    proc = run_tool(['tools/analysis_tools/anchornet_flops.py', '--config', TOY_CONFIG,
                     '--shape', '128', '--out-json', str(out)])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'sum of the parts == total: True' in proc.stdout
    table = json.loads(out.read_text())
    rows = {r['part']: r for r in table['rows']}
    total = table['total']
    for key in ('params', 'macs', 'other_ops'):
        assert sum(r[key] for r in table['rows']) == total[key], key
    assert 'other' not in rows  # the listed parts cover the whole model

    # by hand: at 128 px the B63 / B95 / B111 maps are 9x9, 5x5, 3x3 (RF 63 /
    # 95 / 111, stride 8); a 1x1 conv costs C_in * C_out MACs a location
    # (bias not counted); 24 channels, 6 classes
    locations = 9 * 9 + 5 * 5 + 3 * 3
    assert rows['logits convs F_j (1x1)']['macs'] == locations * 24 * 6
    # the paper's test (test_with_attention=False) does not run eq. 1's conv
    assert rows['attention convs, eq. 1 (1x1)']['macs'] == 0
    assert rows['training-only FCs'] == dict(part='training-only FCs',
                                             params=3 * (24 * 6 + 6), macs=0,
                                             other_ops=0)
    cfg = Config.fromfile(TOY_CONFIG)
    model = MODELS.build(cfg.model)
    assert total['params'] == sum(p.numel() for p in model.parameters())
    assert total['macs'] > 0 and total['other_ops'] > 0


def test_flops_with_attention_at_test(tmp_path):
    out = tmp_path / 'flops.json'
    proc = run_tool(['tools/analysis_tools/anchornet_flops.py', '--config', TOY_CONFIG,
                     '--shape', '128', '--out-json', str(out), '--cfg-options',
                     'model.head.test_with_attention=True'])
    assert proc.returncode == 0, proc.stdout[-3000:]
    rows = {r['part']: r for r in json.loads(out.read_text())['rows']}
    assert rows['attention convs, eq. 1 (1x1)']['macs'] == (9 * 9 + 5 * 5 + 3 * 3) * 24


def test_flops_tool_refuses_small_input():
    tool = runpy.run_path(osp.join(REPO, 'tools', 'analysis_tools',
                                   'anchornet_flops.py'))
    with pytest.raises(ValueError, match="'B111': input 100x100 is smaller than its "
                                         'receptive field 111x111'):
        tool['main'](['--config', TOY_CONFIG, '--shape', '100'])
    with pytest.raises(ValueError, match='--shape takes H or H W'):
        tool['main'](['--config', TOY_CONFIG, '--shape', '1', '2', '3'])
