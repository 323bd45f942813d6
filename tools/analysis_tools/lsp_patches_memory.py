"""Memory and time of building LSPPatchDataset on an ImageNet-size record file.

    python tools/analysis_tools/lsp_patches_memory.py [--num-images 1281167] \\
        [--out-dir work_dirs/lsp_patches_memory]

The patch fine-tuning configs read the LSP patch records of the ImageNet
training split (1.28 M JSON lines, about 13.5 patches each in the paper's
downstream setting: ~17 M patches). Every rank (and its dataloader workers,
by fork) holds the dataset, so its size per rank bounds how many ranks a node
can run.

This writes the records (no images: ``mmfsod.utils.paper_scale_data.
write_lsp_records``, branches drawn with the paper's shares, cached in
``--out-dir``), then builds ``LSPPatchDataset`` on them in a fresh
subprocess per size (``--num-images``, several allowed) and prints: the
patches, the build time, the process's peak resident set (``ru_maxrss``) and
its growth over the resident set after the imports, and the bytes of the
dataset's numpy columns where it has them.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, REPO)


def rss_bytes() -> int:
    """The current resident set of this process."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


def build(ann_file: str) -> dict:
    """Build the dataset in this process; its figures."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS

    import mmfsod.classification  # noqa: F401
    init_default_scope('mmpretrain')
    before = rss_bytes()
    start = time.perf_counter()
    dataset = DATASETS.build(dict(type='LSPPatchDataset', ann_file=ann_file, pipeline=[]))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    table = getattr(dataset, 'data_list', None)
    nbytes = getattr(table, 'nbytes', None)
    first = dataset.get_data_info(0)
    return dict(patches=len(dataset), build_s=seconds, peak_rss=peak, rss_after=rss_bytes(),
                rss_before=before, columns_bytes=nbytes,
                first=dict(first, patch_box=list(first['patch_box'])))


def records_file(out_dir: str, num_images: int, seed: int) -> str:
    from mmfsod.utils.paper_scale_data import write_lsp_records
    path = osp.join(out_dir, f'lsp_records_{num_images}_seed{seed}.jsonl')
    if not osp.isfile(path):
        start = time.time()
        images = ((f'data/imagenet/train/n{i % 1000:08d}/n{i % 1000:08d}_{i}.JPEG', i % 1000)
                  for i in range(num_images))
        n = write_lsp_records(path + '.tmp', images, seed=seed)
        os.replace(path + '.tmp', path)
        print(f'wrote {path}: {num_images} records, {n} patches, '
              f'{osp.getsize(path) / 2 ** 30:.2f} GiB ({time.time() - start:.0f} s)', flush=True)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-images', type=int, nargs='+', default=[1281167])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', default=osp.join(REPO, 'work_dirs', 'lsp_patches_memory'))
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(build(args.child)))
        return 0
    os.makedirs(args.out_dir, exist_ok=True)
    gib = 2 ** 30
    print(f'{"images":>9}  {"patches":>10}  {"build s":>8}  {"peak RSS GiB":>12}  '
          f'{"growth GiB":>10}  {"B/patch":>7}  {"columns GiB":>11}')
    for num in args.num_images:
        path = records_file(args.out_dir, num, args.seed)
        out = subprocess.run([sys.executable, osp.abspath(__file__), '--child', path],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f'{num:>9}  failed: {out.stderr.strip().splitlines()[-1:]}')
            continue
        res = json.loads(out.stdout.strip().splitlines()[-1])
        growth = res['peak_rss'] - res['rss_before']
        cols = res['columns_bytes']
        print(f'{num:>9}  {res["patches"]:>10}  {res["build_s"]:>8.1f}  '
              f'{res["peak_rss"] / gib:>12.2f}  {growth / gib:>10.2f}  '
              f'{growth / res["patches"]:>7.0f}  '
              f'{"-" if cols is None else f"{cols / gib:.3f}":>11}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
