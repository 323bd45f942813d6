"""Localize semantic patches (AnchorNet + LSP) on a folder of images.

    python tools/analysis_tools/localize_patches.py CONFIG CHECKPOINT IMG_DIR \
        --out-dir DIR [--setting downstream|visualisation] [--draw N] \
        [--out-file lsp_patches.jsonl] [--batch-size 1] [--device auto] \
        [--cfg-options k=v ...]

Writes ``DIR/<out-file>``: one LSP patch record (JSON line) per image found
under IMG_DIR (recursively, sorted by path; ``sample_idx`` is the position in
that order, ``gt_label`` is null), the same records the LSP hook writes
during ``tools/test.py``; with ``--draw N`` the first N images' pictures
(patches, attention maps) go to ``DIR/vis/``. CONFIG's test pipeline is used
(it must only resize); a progress bar shows the images done.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmengine.config import DictAction  # noqa: E402

from mmfsod.classification.apis import localize_folder  # noqa: E402
from mmfsod.classification.lsp import LSP_SETTINGS  # noqa: E402
from mmfsod.utils.device import add_device_arg  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='AnchorNet + LSP on a folder of images: JSON-lines patch '
        'records and pictures')
    parser.add_argument('config', help='AnchorNet config file')
    parser.add_argument('checkpoint', help='AnchorNet checkpoint')
    parser.add_argument('img_dir', help='folder of images (searched recursively)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--out-file', default='lsp_patches.jsonl',
                        help='records file name in --out-dir')
    parser.add_argument('--setting', default='downstream', choices=sorted(LSP_SETTINGS),
                        help='LSP setting of the paper (default: downstream)')
    parser.add_argument('--draw', type=int, default=0, metavar='N',
                        help='draw the first N images into OUT_DIR/vis')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass; >1 needs one input size '
                        '(a resizing test pipeline)')
    add_device_arg(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.draw < 0:
        raise ValueError(f'--draw must be >= 0, got {args.draw}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist')
    out_file = osp.join(args.out_dir, args.out_file)
    records = localize_folder(args.config, args.checkpoint, args.img_dir, out_file,
                              setting=args.setting, draw=args.draw,
                              draw_dir=osp.join(args.out_dir, 'vis'),
                              batch_size=args.batch_size, device=args.device,
                              cfg_options=args.cfg_options)
    print(f'\n{len(records)} LSP patch records ({args.setting} setting) written to '
          f'{out_file}' + (f'; pictures of the first {min(args.draw, len(records))} '
                           f'images in {osp.join(args.out_dir, "vis")}'
                           if args.draw else ''))


if __name__ == '__main__':
    main()
