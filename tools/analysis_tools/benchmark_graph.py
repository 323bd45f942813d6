"""Latency and peak memory of lcRPN's graph step (GCN-FSOD eqs. 1-2), dense vs chunked.

    python tools/analysis_tools/benchmark_graph.py
    python tools/analysis_tools/benchmark_graph.py --device cuda --nodes 2000 8000 16000
    python tools/analysis_tools/benchmark_graph.py --backward --chunk-size 256

One :class:`GraphCorrespondence` call (both graph-conv layers) on one
support-query pair, for growing node counts N = h·w (support) + H·W (query).
Every (N, path) case runs in a fresh subprocess with the same seed (same
weights and inputs, post-ReLU random features), so its peak memory is its own:

* CPU: the growth of the process's peak resident set (``ru_maxrss``) over its
  resident set measured once the module and the inputs exist. If the run
  never raised the peak set by the imports, only an upper bound is known
  (printed as ``<=``).
* CUDA: ``torch.cuda.max_memory_allocated`` minus the memory allocated before
  the runs (PyTorch's allocator only, not the CUDA context).

Latency is the median of ``--repeats`` calls after one warm-up call, under
``torch.no_grad`` (``--backward``: forward + backward with gradients of the
inputs and weights; the chunked path then checkpoints each chunk).
``max|d-c|`` is the largest absolute difference between the dense and the
chunked outputs.
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

import torch  # noqa: E402

SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--nodes', type=int, nargs='+', default=[1000, 2000, 4000, 8000],
                        help='total node counts N (support + query)')
    parser.add_argument('--chunk-size', type=int, default=512,
                        help='rows per chunk of the chunked path')
    parser.add_argument('--channels', type=int, default=256,
                        help='C of the features; hidden and output channels too')
    parser.add_argument('--support-size', type=int, default=20,
                        help='the support map is S x S (paper-notes: 20x20)')
    parser.add_argument('--repeats', type=int, default=3, help='timed calls per case')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument('--backward', action='store_true',
                        help='time and measure forward + backward instead')
    # internal: run one case
    parser.add_argument('--worker', choices=['dense', 'chunked'], help=argparse.SUPPRESS)
    parser.add_argument('--num-nodes', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def query_shape(num_query):
    """(H, W) with H·W = num_query, as square as possible."""
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


def run_case(args):
    """Child process: one node count, one path; prints a json line."""
    from mmfsod.detection.models.layers import GraphCorrespondence

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    size = args.support_size
    height, width = query_shape(args.num_nodes - size * size)
    torch.manual_seed(SEED)
    module = GraphCorrespondence(
        args.channels, args.channels, args.channels,
        chunk_size=args.chunk_size if args.worker == 'chunked' else None).to(device)
    support = torch.randn(1, args.channels, size, size).relu().to(device)
    query = torch.randn(1, args.channels, height, width).relu().to(device)
    support.requires_grad_(args.backward)
    query.requires_grad_(args.backward)

    def call():
        if args.backward:
            out = module(support, query)
            out.sum().backward()
            return out.detach()
        with torch.no_grad():
            return module(support, query)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    with torch.no_grad():  # load lazily initialised kernels before the baseline
        module(support[..., :2, :2], query[..., :2, :2])
    sync()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB
        base = current_rss_kb()
    times = []
    for i in range(args.repeats + 1):  # the first call is a warm-up
        start = time.perf_counter()
        out = call()
        sync()
        if i:
            times.append(time.perf_counter() - start)
    if device.type == 'cuda':
        peak_mb, bound = (torch.cuda.max_memory_allocated() - base) / 2**20, False
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb, bound = (peak - base) / 1024, peak <= base_peak
    torch.save(out.cpu(), args.out)
    print(json.dumps(dict(ms=1e3 * statistics.median(times), peak_mb=peak_mb,
                          bound=bound, hw=[height, width])))


def spawn(args, path, num_nodes, out):
    cmd = [sys.executable, osp.abspath(__file__), '--worker', path, '--num-nodes',
           str(num_nodes), '--out', out, '--device', args.device, '--chunk-size',
           str(args.chunk_size), '--channels', str(args.channels), '--support-size',
           str(args.support_size), '--repeats', str(args.repeats)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    if args.backward:
        cmd.append('--backward')
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f'case N={num_nodes} {path} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_case(args)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: CUDA is not available')
    num_support = args.support_size ** 2
    if min(args.nodes) <= num_support:
        raise SystemExit(f'--nodes must exceed the {num_support} support nodes')
    if args.threads:
        torch.set_num_threads(args.threads)
    device_name = (torch.cuda.get_device_name(0) if args.device == 'cuda' else
                   f'cpu ({os.cpu_count()} cores visible)')
    print('$ python ' + ' '.join(shlex.quote(a) for a in sys.argv))
    print(f'torch {torch.__version__}, device {args.device}: {device_name}, '
          f'torch threads {torch.get_num_threads()}')
    print(f'setting: 1 pair, C = hidden = out = {args.channels}, support '
          f'{args.support_size}x{args.support_size} = {num_support} nodes, query '
          f'H x W = N - {num_support}, float32, T = 1, eps = 1e-6, chunk_size '
          f'{args.chunk_size}; {"forward + backward" if args.backward else "no_grad forward"}'
          f', median of {args.repeats} calls after 1 warm-up; peak = '
          f'{"max_memory_allocated" if args.device == "cuda" else "ru_maxrss"} growth'
          ', fresh process per case')
    header = ('N', 'query HxW', 'dense ms', 'chunked ms', 'dense peak MB',
              'chunked peak MB', 'N^2*4B MB', 'max|d-c|')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for num_nodes in args.nodes:
            res = {}
            for path in ('dense', 'chunked'):
                res[path] = spawn(args, path, num_nodes, osp.join(tmp, f'{path}.pt'))
            diff = (torch.load(osp.join(tmp, 'dense.pt')) -
                    torch.load(osp.join(tmp, 'chunked.pt'))).abs().max().item()

            def mem(r):
                return ('<=' if r['bound'] else '') + f'{r["peak_mb"]:.1f}'

            rows.append((str(num_nodes), '{}x{}'.format(*res['dense']['hw']),
                         f'{res["dense"]["ms"]:.1f}', f'{res["chunked"]["ms"]:.1f}',
                         mem(res['dense']), mem(res['chunked']),
                         f'{num_nodes ** 2 * 4 / 2**20:.1f}', f'{diff:.2e}'))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header, tuple('-' * w for w in widths)] + rows:
        print(' | '.join(cell.rjust(w) for cell, w in zip(row, widths)))


if __name__ == '__main__':
    main()
