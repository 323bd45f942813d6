"""tools/analysis_tools/calibrate_early_exit.py on a tiny toy clutter set
with a held-out split (random weights: the mechanics, not the accuracy)."""
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import calibrate_early_exit as tool  # noqa: E402

TOY = osp.join(REPO, 'configs', 'anchornet', 'toy', 'downstream')
CONFIG = osp.join(TOY, 'resnet18-w16_anchornet-lsp_toy-clutter.py')
RESCALE = osp.join(TOY, 'resnet18-w16_anchornet-lsp-table4-rescale_toy-clutter.py')
FULL = osp.join(TOY, 'resnet18-w16_toy-clutter_full.py')
GEN = dict(num_train=6, num_val=6, num_holdout=6, img_size=224, seed=0)


def options(root, **extra):
    opts = ['model.localizer_checkpoint=None',
            f'calibration_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']
    for key, value in GEN.items():
        opts.append(f'calibration_dataloader.dataset.generate.{key}={value}')
        opts.append(f'test_dataloader.dataset.generate.{key}={value}')
    opts += [f'{k}={v}' for k, v in extra.items()]
    return opts


@pytest.fixture(scope='module')
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp('calib')
    root = str(out / 'clutter') + '/'
    code = tool.main([CONFIG, 'none', '--max-top1-drop', '5', '--out-dir', str(out),
                      '--cfg-options'] + options(root))
    return out, root, code


def test_calibration_writes_records_config_and_plot(calibrated, capsys):
    out, root, code = calibrated
    assert code == 0
    with open(out / 'calibration_records.json') as f:
        data = json.load(f)
    assert len(data['records']) == GEN['num_holdout']
    assert 'split=holdout' in data['meta']['split']
    assert all('/holdout/' in r['img_path'] for r in data['records'])
    # the pass classified every candidate: the downstream setting's K at 224
    assert {len(r['patch_scores']) for r in data['records']} <= {24, 10, 8}
    assert (out / 'early_exit_sweep.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    cfg = Config.fromfile(str(out / 'early_exit_cfg.py'))
    assert cfg.model.type == 'PatchClassifier'
    exit_cfg = cfg.model.exit_cfg
    assert exit_cfg.stages == (1, ) and exit_cfg.score == 'max'
    assert len(exit_cfg.thresholds) >= 1
    text = (out / 'early_exit_cfg.py').read_text()
    assert 'held-out images' in text and '--max-top1-drop 5' in text


def test_records_reused_and_sweep_reproduced(calibrated, capsys):
    """A second run from the records file makes the same choice without a
    pass over the images; the chosen point meets the target."""
    out, root, _ = calibrated
    first = (out / 'early_exit_cfg.py').read_text()
    out2 = out / 'again'
    code = tool.main([CONFIG, 'none', '--max-top1-drop', '5', '--out-dir', str(out2),
                      '--records', str(out / 'calibration_records.json'),
                      '--rescale', RESCALE, 'none', '--cfg-options'] + options(root))
    text = capsys.readouterr().out
    assert code == 0
    assert '== calibration pass' not in text and 'records:' in text
    assert (out2 / 'early_exit_cfg.py').read_text().split('model = ')[1] == \
        first.split('model = ')[1]
    assert 'rescale (Table 4): top-1' in text
    # the default choice: one shared or a decaying threshold, bootstrap bound
    # over the six curves; the chosen thresholds are then reported on the
    # validation images
    assert 'selection: families constant decay, bootstrap selection: drop' in text
    assert 'on the 0.9915 quantile (0.95 over 6 threshold curves)' in text
    assert '== validation pass (reported, not used for the choice)' in text
    assert (out2 / 'validation_records.json').is_file()
    line = [x for x in text.splitlines() if x.startswith('validation drop: ')]
    assert len(line) == 1 and f'on {GEN["num_val"]} images of ' in line[0]
    assert 'split=val' in line[0] and 'budget 5)' in line[0]
    # reusing the validation records gives the same line, without a pass
    tool.main([CONFIG, 'none', '--max-top1-drop', '5', '--out-dir', str(out2),
               '--records', str(out / 'calibration_records.json'), '--val-records',
               str(out2 / 'validation_records.json'), '--cfg-options'] + options(root))
    again = capsys.readouterr().out
    assert '== validation pass' not in again
    assert line[0].split(' of ')[0] in again


def test_unreachable_target_names_the_best_point(calibrated, capsys):
    out, root, _ = calibrated
    code = tool.main([CONFIG, 'none', '--target-gmacs', '0.001', '--out-dir',
                      str(out / 'x'), '--records', str(out / 'calibration_records.json'),
                      '--cfg-options'] + options(root))
    err = capsys.readouterr().err
    assert code == 2
    assert 'no threshold reaches 0.0010 GMACs per image: the cheapest point' in err


def test_bad_inputs(calibrated, tmp_path):
    out, root, _ = calibrated
    # the test split is refused as a calibration split
    with pytest.raises(ValueError, match='reads the test split'):
        tool.main([CONFIG, 'none', '--max-top1-drop', '1', '--out-dir', str(tmp_path),
                   '--cfg-options'] + options(root) +
                  ['calibration_dataloader.dataset.split=val'])
    # an empty records file
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps(dict(meta={}, records=[])))
    with pytest.raises(ValueError, match='empty.json: no records'):
        tool.main([CONFIG, 'none', '--max-top1-drop', '1', '--records', str(empty),
                   '--out-dir', str(tmp_path), '--cfg-options'] + options(root))
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, 'none', '--max-top1-drop', 'nan'])
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, 'none', '--target-gmacs', '1', '--stages', '0'])
    with pytest.raises(SystemExit):  # no target
        tool.parse_args([CONFIG, 'none'])
