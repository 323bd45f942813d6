"""benchmark_patch_pipeline.py --paper-operating-point: the draws follow the
paper's branch shares and patch means; a reduced run prints its line."""
import math
import os.path as osp
import re
import sys

import numpy as np
import pytest

from mmfsod.classification.models.utils.inference_backends import backend_available

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))

import _paper_operating_point as point  # noqa: E402
import benchmark_patch_pipeline as bench  # noqa: E402

LINE = re.compile(r'^paper operating point \((\w+)\): MACs ratio (\d+\.\d\d), '
                  r'CPU time ratio (\d+\.\d\d)$')
VERSUS = re.compile(r'^versus PyTorch full image: (\d+\.\d\d)$')


def test_plan_has_the_papers_shares_and_means():
    plan = point.draw_plan(20000, seed=3)
    total = sum(point.PAPER_IMAGES.values())
    for name, images in point.PAPER_IMAGES.items():
        counts = [n for b, n in plan if b == name]
        assert abs(len(counts) / len(plan) - images / total) < 0.01
        mean = point.PAPER_PATCHES[name]
        assert set(counts) == {math.floor(mean), math.ceil(mean)}
        assert abs(np.mean(counts) - mean) < 0.03
    assert point.draw_plan(50, seed=1) == point.draw_plan(50, seed=1)


def test_reduced_run_prints_its_line(capsys):
    result = bench.main(['--paper-operating-point', '--arch', 'resnet50',
                         '--num-images', '2', '--warmup', '0', '--threads', '1'])
    lines = capsys.readouterr().out.strip().splitlines()
    match = LINE.match(lines[-2])
    assert match, lines[-2]
    versus = VERSUS.match(lines[-1])
    assert versus, lines[-1]
    # PyTorch with jit is the best full image: the same timings here
    assert result['backend'] == 'pytorch'
    assert result['torch_full_ms'] == result['full_ms']
    assert float(versus.group(1)) == pytest.approx(result['time_ratio'], abs=0.006)
    assert match.group(1) == 'resnet50'
    assert float(match.group(2)) == pytest.approx(result['macs_ratio'], abs=0.006)
    assert float(match.group(3)) == pytest.approx(result['time_ratio'], abs=0.006)
    assert result['images'] == 2 and result['threads'] == 1
    assert result['optimized'] and result['compile'] == 'jit'  # the defaults
    # ResNet-50 at 224: 4.09 G MACs; the optimised AnchorNet 0.36 G (no
    # attention bottlenecks, no 1000-channel maps at test)
    assert result['full_gmacs'] == pytest.approx(4.09, abs=0.01)
    assert result['anchornet_gmacs'] == pytest.approx(0.358, abs=0.005)
    # the profile: one row per part, before the last two lines
    assert result['anchornet_in'] == 'pytorch'
    assert list(result['profile_ms']) == list(point.PROFILE_PARTS)
    assert all(v >= 0 for v in result['profile_ms'].values())
    start = lines.index('| part | ms | share | / full image |')
    rows = lines[start + 2:-2]
    assert [r.split(' | ')[0] for r in rows] == [
        '| ' + point.PROFILE_LABELS[p] for p in point.PROFILE_PARTS] + [
        '| sum of the parts', '| full image (pytorch)']


@pytest.mark.parametrize('argv, match', [
    (['--paper-operating-point', 'a.py', 'a.pth'], 'takes no CONFIG CKPT pairs'),
    ([], r'give CONFIG CKPT pairs \(or --paper-operating-point\)'),
])
def test_bad_arguments(argv, match, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)
    assert re.search(match, capsys.readouterr().err)


@pytest.mark.skipif(not backend_available('onnxruntime'),
                    reason="onnxruntime missing (the deploy extra is not installed: "
                    "pip install -e '.[deploy]')")
def test_reduced_run_in_onnxruntime_prints_both_lines(capsys):
    """The classifier in ONNX Runtime: the usual line against the engine's own
    full image, then the pipeline against PyTorch's best full image, timed in
    the same run (traced, BN folded)."""
    result = bench.main(['--paper-operating-point', '--arch', 'resnet50',
                         '--num-images', '2', '--warmup', '0', '--threads', '1',
                         '--backend', 'onnxruntime'])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith('resnet50, classifier in onnxruntime, 2 images')
    assert LINE.match(lines[-2]) and VERSUS.match(lines[-1])
    assert result['backend'] == 'onnxruntime'
    assert result['anchornet_in'] == 'onnxruntime'  # AnchorNet in the engine too
    assert any(line.startswith('| AnchorNet forward (test path in onnxruntime')
               for line in lines)
    assert result['torch_full_ms'] != result['full_ms']  # timed apart
    assert float(VERSUS.match(lines[-1]).group(1)) == pytest.approx(
        result['pipeline_ms'] / result['torch_full_ms'], abs=0.006)
    assert result['full_gmacs'] == pytest.approx(4.09, abs=0.01)  # MACs unchanged
