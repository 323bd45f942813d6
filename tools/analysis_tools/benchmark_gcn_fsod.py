"""GCN-FSOD cost: lcRPN vs the global-kernel RPN, the graph, the whole detector.

    python tools/analysis_tools/benchmark_gcn_fsod.py --threads 2 --with-backbone
    python tools/analysis_tools/benchmark_gcn_fsod.py --device cuda --nodes 2000 8000 16000
    python tools/analysis_tools/benchmark_gcn_fsod.py --sections graph --backward

Four sections, printed in one run on the same machine (``--sections``):

``rpn``
    The first stage of meta-testing one query image against ``--classes``
    classes (default 20, "20-way"), per image: the RPN head of
    ``configs/_base_/models/gcn-fsod_r50_c4.py`` (res4 features, 1024
    channels) on the query's res4 map and each class's support map, batched
    over the classes as :class:`QuerySupportDetector` does at test
    (``class_chunk`` = all classes), up to the proposals (decode + NMS). The
    paper's input: a 1000 x 600 query (res4 map 38 x 63, stride 16) and 320 x
    320 supports (20 x 20). Rows: the global-kernel RPN (Attention-RPN, Table
    2 row 1), lcRPN with the dense graph, lcRPN with the chunked graph
    (``--chunk-size`` query rows at a time), the pairs marked as sharing the
    query (``query_groups``, as the detector does); and lcRPN dense unshared
    (every pair its own graph: the work before the sharing). The backbone is
    left out: it is the same for every row (its cost is printed once,
    ResNet-50 up to res4 on the query, for scale, with ``--with-backbone``).

``graph``
    One :class:`GraphCorrespondence` call (both graph-conv layers) on one
    support-query pair as the node count N = h*w (support) + H*W (query)
    grows (``--nodes``, default 1k, 2k, 4k, 8k), dense vs chunked, and the
    largest difference between their outputs.

``detector``
    The paper model (``gcn-fsod_r50_c4.py``, random weights, one template shot
    per class) meta-testing one query image against ``--classes`` classes,
    for ``rpn_type`` lcrpn and global_kernel: ms and peak memory of each stage
    of ``QuerySupportDetector.predict`` (backbone, RPN, RoI head, merge) per
    image. The templates' features are computed once per test set, before.

``train``
    ms per training iteration (``train_step``: forward, backward, SGD step;
    batches loaded beforehand) of the toy base-training config with the lcRPN
    and the global kernel, beside mmdet's plain Faster R-CNN R18-FPN toy
    config, on a generated toy set of ``--train-images`` images.

The run ends with two lines: the RPN stage's lcrpn / global_kernel time
ratio (the detector section's, else the rpn section's dense row) and the peak
memory of the dense graph of ``--classes`` pairs sharing one query
(profiler-measured, see below).

Every case runs in a fresh subprocess with the same seed (same weights and
inputs: post-ReLU random features), so its peak memory is its own. The rpn
and graph sections report the process's resident-set growth:

* CPU: the growth of the process's peak resident set (``ru_maxrss``) over its
  resident set once the module and the inputs exist. If the run never raised
  the peak set by the imports, only an upper bound is known (``<=``).
* CUDA: ``torch.cuda.max_memory_allocated`` minus the memory allocated before
  the timed calls (PyTorch's allocator only, not the CUDA context).

The detector section and the graph-memory line report the allocator peak
from ``torch.profiler`` (``profile_memory=True``: the largest running sum of
PyTorch's allocations minus frees inside the stage, over what was allocated
when it began; see ``gcn_fsod_stages.py``).

Latency is the median of ``--repeats`` calls after one warm-up call, under
``torch.no_grad`` (graph ``--backward``: forward + backward with gradients of
the inputs and weights; the chunked path then checkpoints each chunk).
"""
import argparse
import json
import os
import os.path as osp
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402

import gcn_fsod_stages as stages  # noqa: E402

from mmfsod.utils.device import add_device_arg, device_name, is_cuda  # noqa: E402

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
PAPER_MODEL = osp.join(REPO, 'configs', '_base_', 'models', 'gcn-fsod_r50_c4.py')
SEED = 0
# (label, rpn_type, chunked, query shared by the pairs)
RPN_ROWS = (('global_kernel', 'global_kernel', False, True),
            ('lcRPN, dense graph', 'lcrpn', False, True),
            ('lcRPN, chunked graph', 'lcrpn', True, True),
            ('lcRPN, dense graph, unshared', 'lcrpn', False, False))
DETECTOR_RPNS = ('lcrpn', 'global_kernel')
SECTIONS = ['rpn', 'graph', 'detector', 'train']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sections', nargs='+', default=SECTIONS, choices=SECTIONS)
    add_device_arg(parser, help='Figures are per device: the header names it.')
    parser.add_argument('--chunk-size', type=int, default=512,
                        help='rows per chunk of the chunked graph')
    parser.add_argument('--repeats', type=int, default=3, help='timed calls per case')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    # rpn section
    parser.add_argument('--classes', type=int, default=20,
                        help='classes a query is tested against (rpn section)')
    parser.add_argument('--query-size', type=int, nargs=2, default=[600, 1000],
                        metavar=('H', 'W'), help='query image size (rpn section)')
    parser.add_argument('--support-img-size', type=int, default=320,
                        help='support image side (rpn section)')
    parser.add_argument('--with-backbone', action='store_true',
                        help='also time ResNet-50 up to res4 on the query')
    # graph section
    parser.add_argument('--nodes', type=int, nargs='+', default=[1000, 2000, 4000, 8000],
                        help='total node counts N (support + query), graph section')
    parser.add_argument('--channels', type=int, default=256,
                        help='C of the features; hidden and output channels too '
                        '(graph section)')
    parser.add_argument('--support-size', type=int, default=20,
                        help='the support map is S x S nodes (graph section)')
    parser.add_argument('--backward', action='store_true',
                        help='graph section: time forward + backward')
    # detector and train sections
    parser.add_argument('--detector-repeats', type=int, default=1,
                        help='timed predict calls per RPN type (after a profiled warm-up)')
    parser.add_argument('--train-iters', type=int, default=5,
                        help='timed training iterations per config (after a warm-up)')
    parser.add_argument('--train-images', type=int, default=24,
                        help='images of the generated toy set (train section)')
    parser.add_argument('--train-batch', type=int, default=None,
                        help='batch size of the train section (default: each config\'s)')
    parser.add_argument('--rois-per-class', type=int, default=None,
                        help='detector section: proposals per class (default: the '
                        'config\'s test_cfg.rpn.max_per_img, 100)')
    # internal: run one case in a child process
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--num-nodes', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def query_shape(num_query):
    """(H, W) with H*W = num_query, as square as possible."""
    height = max(h for h in range(1, int(num_query ** 0.5) + 1) if num_query % h == 0)
    return height, num_query // height


def current_rss_kb():
    """Resident set of this process now, kB (Linux), else its peak so far."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(call, device, repeats):
    """Median ms of ``repeats`` calls after a warm-up, and the peak memory
    growth (MB) over the memory in use before them; returns the last output."""
    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    sync()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
        base = current_rss_kb()
    times = []
    for i in range(repeats + 1):  # the first call is a warm-up
        start = time.perf_counter()
        out = call()
        sync()
        if i:
            times.append(time.perf_counter() - start)
    if device.type == 'cuda':
        peak_mb, bound = (torch.cuda.max_memory_allocated(device) - base) / 2**20, False
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb, bound = (peak - base) / 1024, peak <= base_peak
    return dict(ms=1e3 * statistics.median(times), peak_mb=peak_mb, bound=bound), out


def graph_case(args, device):
    """One pair through GraphCorrespondence, dense or chunked."""
    from mmfsod.detection.models.layers import GraphCorrespondence

    size = args.support_size
    height, width = query_shape(args.num_nodes - size * size)
    torch.manual_seed(SEED)
    module = GraphCorrespondence(
        args.channels, args.channels, args.channels,
        chunk_size=args.chunk_size if args.worker == 'graph-chunked' else None).to(device)
    support = torch.randn(1, args.channels, size, size).relu().to(device)
    query = torch.randn(1, args.channels, height, width).relu().to(device)
    support.requires_grad_(args.backward)
    query.requires_grad_(args.backward)
    with torch.no_grad():  # load lazily initialised kernels before the baseline
        module(support[..., :2, :2], query[..., :2, :2])

    def call():
        if args.backward:
            out = module(support, query)
            out.sum().backward()
            return out.detach()
        with torch.no_grad():
            return module(support, query)

    res, out = measure(call, device, args.repeats)
    res['hw'] = [height, width]
    return res, out


def rpn_case(args, device):
    """The paper model's RPN head on one query against ``--classes`` classes."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmfsod.detection  # noqa: F401
    from mmdet.registry import MODELS

    init_default_scope('mmdet')
    _, rpn_type, chunk, shared = RPN_ROWS[int(args.worker.split('-')[1])]
    cfg = Config.fromfile(PAPER_MODEL).model
    head_cfg = cfg.rpn_head
    head_cfg.update(rpn_type=rpn_type, test_cfg=cfg.test_cfg.rpn)
    head_cfg.graph.chunk_size = args.chunk_size if chunk else None
    torch.manual_seed(SEED)
    head = MODELS.build(head_cfg).to(device).eval()
    stride = 16
    q_h, q_w = (-(-s // stride) for s in args.query_size)  # res4 map of the query
    s_side = -(-args.support_img_size // stride)
    channels = head_cfg.in_channels
    query = torch.randn(1, channels, q_h, q_w).relu().to(device)
    supports = torch.randn(args.classes, channels, s_side, s_side).relu().to(device)
    metas = [dict(img_shape=tuple(args.query_size))] * args.classes
    with torch.no_grad():  # lazily initialised kernels
        head.predict_pairs(query[..., :4, :4].expand(2, -1, -1, -1),
                           supports[:2, :, :2, :2], metas[:2])

    groups = [0] * args.classes if shared else None  # the pairs' one query
    groups = [groups] if stages.takes_query_groups(head.forward) else []  # (older heads)

    def call():
        with torch.no_grad():
            pair_q = query.expand(args.classes, -1, -1, -1)  # one pair per class
            cls_scores, bbox_preds = head(pair_q, supports, *groups)
            head.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=metas,
                                 rescale=False)  # proposals: decode + NMS
            return torch.cat([cls_scores[0].flatten(), bbox_preds[0].flatten()])

    res, out = measure(call, device, args.repeats)
    res.update(hw=[q_h, q_w], support=[s_side, s_side])
    return res, out


def backbone_case(args, device):
    """ResNet-50 up to res4 on the query (the cost every RPN row shares)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdet.registry import MODELS

    init_default_scope('mmdet')
    cfg = Config.fromfile(PAPER_MODEL).model.backbone
    cfg.init_cfg = None
    torch.manual_seed(SEED)
    backbone = MODELS.build(cfg).to(device)
    backbone.eval()  # (mmdet's ResNet.train returns None)
    img = torch.randn(1, 3, *args.query_size, device=device)

    def call():
        with torch.no_grad():
            return backbone(img)[-1].mean().cpu()

    return measure(call, device, args.repeats)


def run_worker(args):
    """Child process: one case; prints a json line, saves the output."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.worker == 'graph-peak':
        res, out = stages.graph_peak_case(args, device)
    elif args.worker.startswith('graph-'):
        res, out = graph_case(args, device)
    elif args.worker == 'detector':
        res, out = stages.detector_case(args, device, DETECTOR_RPNS)
    elif args.worker.startswith('train-'):
        res, out = stages.train_case(args, device, int(args.worker.split('-')[1]),
                                     osp.join(osp.dirname(args.out), 'toy_data'))
    elif args.worker.startswith('rpn-'):
        res, out = rpn_case(args, device)
    else:
        res, out = backbone_case(args, device)
    torch.save(out.detach().cpu(), args.out)
    print(json.dumps(res))


def spawn(args, worker, out, num_nodes=0):
    """Run one case in a fresh process with this run's options."""
    cmd = [sys.executable, osp.abspath(__file__), '--worker', worker, '--out', out,
           '--num-nodes', str(num_nodes)]
    skip = {'worker', 'out', 'num_nodes', 'sections', 'nodes'}
    for key, value in vars(args).items():
        if key in skip or value is None or value is False:
            continue
        flag = '--' + key.replace('_', '-')
        if value is True:
            cmd.append(flag)
        else:
            cmd += [flag] + [str(v) for v in (value if isinstance(value, list)
                                              else [value])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f'case {worker} (N={num_nodes}) failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mem(res):
    return ('<=' if res['bound'] else '') + f'{res["peak_mb"]:.1f}'


def print_table(header, rows):
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header, tuple('-' * w for w in widths)] + rows:
        print(' | '.join(cell.rjust(w) for cell, w in zip(row, widths)))


def rpn_section(args, tmp):
    q_h, q_w = (-(-s // 16) for s in args.query_size)
    s_side = -(-args.support_img_size // 16)
    print(f'\n[rpn] one {args.query_size[1]}x{args.query_size[0]} query (res4 '
          f'{q_h}x{q_w}) against {args.classes} classes (support '
          f'{args.support_img_size}x{args.support_img_size}, res4 {s_side}x{s_side}), '
          f'RPN head of gcn-fsod_r50_c4.py (1024 -> 256 channels, 15 anchors, '
          f'{args.classes} pairs batched), up to the proposals; graph N = '
          f'{q_h * q_w + s_side * s_side} nodes per pair')
    if args.with_backbone:
        res = spawn(args, 'backbone', osp.join(tmp, 'backbone.pt'))
        print(f'query backbone (ResNet-50 to res4), shared by every row: '
              f'{res["ms"]:.0f} ms, peak {mem(res)} MB')
    rows, results = [], []
    for index, (name, _, chunk, _) in enumerate(RPN_ROWS):
        res = spawn(args, f'rpn-{index}', osp.join(tmp, f'rpn{index}.pt'))
        results.append(res)
        label = name + (f' ({args.chunk_size} rows)' if chunk else '')
        rows.append((label, f'{res["ms"]:.0f}', f'{res["ms"] / args.classes:.1f}',
                     f'{res["ms"] / results[0]["ms"]:.2f}', mem(res)))
    outs = [torch.load(osp.join(tmp, f'rpn{i}.pt')) for i in (1, 2, 3)]
    print_table(('RPN', 'ms / image', 'ms / class', 'x global_kernel', 'peak MB'), rows)
    print('lcRPN largest difference of the objectness and delta maps: dense vs chunked '
          f'{(outs[0] - outs[1]).abs().max().item():.2e}, shared vs unshared '
          f'{(outs[0] - outs[2]).abs().max().item():.2e}')
    return results[1]['ms'] / results[0]['ms']


def graph_section(args, tmp):
    num_support = args.support_size ** 2
    print(f'\n[graph] 1 pair, C = hidden = out = {args.channels}, support '
          f'{args.support_size}x{args.support_size} = {num_support} nodes, query '
          f'H x W = N - {num_support}, float32, T = 1, eps = 1e-6, chunk_size '
          f'{args.chunk_size}; {"forward + backward" if args.backward else "no_grad forward"}')
    rows = []
    for num_nodes in args.nodes:
        res = {}
        for path in ('dense', 'chunked'):
            res[path] = spawn(args, f'graph-{path}', osp.join(tmp, f'{path}.pt'),
                              num_nodes)
        diff = (torch.load(osp.join(tmp, 'dense.pt')) -
                torch.load(osp.join(tmp, 'chunked.pt'))).abs().max().item()
        rows.append((str(num_nodes), '{}x{}'.format(*res['dense']['hw']),
                     f'{res["dense"]["ms"]:.1f}', f'{res["chunked"]["ms"]:.1f}',
                     mem(res['dense']), mem(res['chunked']),
                     f'{num_nodes ** 2 * 4 / 2**20:.1f}', f'{diff:.2e}'))
    print_table(('N', 'query HxW', 'dense ms', 'chunked ms', 'dense peak MB',
                 'chunked peak MB', 'N^2*4B MB', 'max|d-c|'), rows)


def detector_section(args, tmp):
    print(f'\n[detector] gcn-fsod_r50_c4.py, random weights: one {args.query_size[1]}x'
          f'{args.query_size[0]} query against {args.classes} classes ('
          f'{args.support_img_size}x{args.support_img_size} templates, class_chunk = '
          f'{args.classes}), per image; ms: median of {args.detector_repeats} predict '
          'call(s) after a profiled warm-up, the two detectors in one process, their '
          'calls alternated; peak: profiler allocator peak of the stage')
    res = spawn(args, 'detector', osp.join(tmp, 'detector.pt'))  # types alternated
    rows = []
    for stage in stages.STAGES + ('rest', 'total'):
        row = [stage]
        for rpn in DETECTOR_RPNS:
            r = res[rpn][stage]
            share = 100 * r['ms'] / res[rpn]['total']['ms']
            row += [f'{r["ms"]:.0f}', f'{share:.0f}%',
                    f'{r["peak_mb"]:.0f}' if 'peak_mb' in r else '-']
        rows.append(tuple(row))
    header = ('stage',) + tuple(f'{rpn} {col}' for rpn in DETECTOR_RPNS
                                for col in ('ms', 'share', 'peak MB'))
    print_table(header, rows)
    lc, gk = res['lcrpn'], res['global_kernel']
    print(f'{lc["rois"]} RoIs per image through res5; detections kept: lcrpn '
          f'{lc["detections"]}, global_kernel {gk["detections"]}; whole image lcrpn / '
          f'global_kernel {lc["total"]["ms"] / gk["total"]["ms"]:.2f}, RPN stage '
          f'{lc["rpn"]["ms"] / gk["rpn"]["ms"]:.2f}')
    return lc['rpn']['ms'] / gk['rpn']['ms']


def train_section(args, tmp):
    print(f'\n[train] ms per training iteration (train_step, batches loaded before), '
          f'median of {args.train_iters} after a warm-up, generated toy set of '
          f'{args.train_images} images')
    rows = []
    for index, (name, path, _) in enumerate(stages.TRAIN_CONFIGS):
        res = spawn(args, f'train-{index}', osp.join(tmp, f'train{index}.pt'))
        rows.append((name, path, str(res['batch_size']), f'{res["ms"]:.0f}',
                     f'{res["ms"] / res["batch_size"]:.0f}'))
    print_table(('model', 'config', 'batch', 'ms / iter', 'ms / image'), rows)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    if 'graph' in args.sections and min(args.nodes) <= args.support_size ** 2:
        raise SystemExit(f'--nodes must exceed the {args.support_size ** 2} support nodes')
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = is_cuda(args.device)
    device = (device_name(args.device) if cuda else
              f'cpu ({os.cpu_count()} cores visible)')
    print('$ python ' + ' '.join(shlex.quote(a) for a in sys.argv))
    print(f'torch {torch.__version__}, device {args.device}: {device}, torch '
          f'threads {torch.get_num_threads()}; median of {args.repeats} calls after 1 '
          'warm-up; peak = '
          f'{"max_memory_allocated" if cuda else "ru_maxrss"} growth, '
          'fresh process per case')
    ratio = None
    with tempfile.TemporaryDirectory() as tmp:
        if 'rpn' in args.sections:
            ratio = rpn_section(args, tmp)
        if 'graph' in args.sections:
            graph_section(args, tmp)
        if 'detector' in args.sections:
            ratio = detector_section(args, tmp)
        if 'train' in args.sections:
            train_section(args, tmp)
        peak = spawn(args, 'graph-peak', osp.join(tmp, 'graph_peak.pt'))
    source = 'detector section' if 'detector' in args.sections else 'rpn section, dense'
    print(f'\n(RPN stage ratio from the {source}; graph peak: the dense graph of '
          f'{args.classes} pairs sharing one query, no_grad, profiler allocator peak, '
          f'{peak["ms"]:.0f} ms)')
    print('rpn stage: lcrpn / global_kernel time ratio ' +
          ('n/a' if ratio is None else f'{ratio:.2f}'))
    print(f'graph peak memory at {args.classes} classes: {peak["peak_mb"]:.0f} MB')


if __name__ == '__main__':
    main()
