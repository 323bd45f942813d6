"""tools/analysis_tools/benchmark_gcn_fsod.py: every section at reduced sizes,
and its allocator-level peak measure."""
import os.path as osp
import re
import sys

import pytest
import torch

from conftest import REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_gcn_fsod.py')
SMALL = ['--threads', '1', '--classes', '2', '--query-size', '64', '96',
         '--support-img-size', '64', '--repeats', '1']
SECTION_ARGS = dict(
    rpn=['--with-backbone'],
    graph=['--nodes', '120', '--channels', '8', '--support-size', '4',
           '--chunk-size', '32'],
    detector=['--rois-per-class', '4'],
    train=['--train-iters', '1', '--train-images', '8', '--train-batch', '1'])
LAST_LINES = (r'rpn stage: lcrpn / global_kernel time ratio \d+\.\d\d',
              r'graph peak memory at 2 classes: \d+ MB')


@pytest.mark.parametrize('section', list(SECTION_ARGS))
def test_benchmark_sections_at_reduced_size(section):
    proc = run_tool([TOOL, '--sections', section] + SMALL + SECTION_ARGS[section],
                    timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert f'[{section}]' in proc.stdout
    if section in ('rpn', 'detector'):  # the ratio comes from these sections
        assert re.fullmatch(LAST_LINES[0], lines[-2]), lines[-2]
    else:
        assert lines[-2] == 'rpn stage: lcrpn / global_kernel time ratio n/a'
    assert re.fullmatch(LAST_LINES[1], lines[-1]), lines[-1]
    if section == 'rpn':
        diffs = re.search(r'dense vs chunked (\S+), shared vs unshared (\S+)', proc.stdout)
        assert float(diffs.group(1)) < 1e-5 and float(diffs.group(2)) < 1e-5
        for row in ('global_kernel', 'lcRPN, dense graph ', 'lcRPN, chunked graph',
                    'lcRPN, dense graph, unshared'):
            assert row in proc.stdout
    if section == 'detector':
        for stage in ('backbone', 'rpn', 'roi_head', 'merge', 'total'):
            assert re.search(rf'^\s*{stage} \|', proc.stdout, re.M), stage
        assert '8 RoIs per image' in proc.stdout
    if section == 'train':
        for name in ('GCN-FSOD toy, lcrpn', 'GCN-FSOD toy, global_kernel',
                     'Faster R-CNN R18-FPN toy (mmdet)'):
            assert re.search(re.escape(name) + r' \|.*\| +1 \| +\d+ \|', proc.stdout), name


def test_profiled_peak_sees_freed_temporaries():
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
    import gcn_fsod_stages as stages

    def call():
        tmp = torch.ones(2**20, dtype=torch.float64)  # 8 MB, freed before returning
        return tmp.sum() + torch.zeros(2**18).sum()  # + 1 MB

    out, peak = stages.profiled(call)
    assert out.item() == 2**20
    assert 8.0 <= peak < 10.0
    with torch.no_grad():
        def staged():
            from torch.profiler import record_function
            with record_function('stage:big'):
                a = torch.ones(2**21)  # 8 MB
                del a
            with record_function('stage:small'):
                return torch.ones(2**18).sum()  # 1 MB
        _, spans = stages.profiled(staged, windows=True)
    assert 8.0 <= spans['big'] < 9.0 and 1.0 <= spans['small'] < 2.0
