"""Draw the first items of a config's query-support training set.

    python tools/analysis_tools/browse_query_support.py \
        configs/_base_/datasets/fsod_toy-shapes_base-training.py \
        --num 4 --out-dir work_dirs/query_support

writes one picture per item: the query with its boxes of the positive class,
and the supports of each class (green frame: positive, red: negative).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import cv2  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import mmfsod  # noqa: E402,F401  (mmfsod:: configs)
from mmfsod.utils.config_derived import resolve_derived  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config whose train_dataloader.dataset '
                        'is a QuerySupportDataset')
    parser.add_argument('--num', type=int, default=4, help='items to draw')
    parser.add_argument('--start', type=int, default=0, help='first item index')
    parser.add_argument('--out-dir', default='work_dirs/query_support')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.num < 1:
        sys.exit('--num must be >= 1')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    resolve_derived(cfg)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    import mmfsod.detection  # noqa: F401  (registers the datasets)
    from mmdet.registry import DATASETS
    from mmfsod.detection.datasets import QuerySupportDataset
    from mmfsod.detection.visualization import draw_query_support
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    if not isinstance(dataset, QuerySupportDataset):
        sys.exit(f'{args.config}: train_dataloader.dataset is a {type(dataset).__name__}, '
                 'not a QuerySupportDataset')
    os.makedirs(args.out_dir, exist_ok=True)
    meta = dataset.metainfo
    stop = min(len(dataset), args.start + args.num)
    bar = ProgressBar(stop - args.start)
    for idx in range(args.start, stop):
        picture = draw_query_support(dataset[idx], meta['classes'], meta.get('palette'))
        cv2.imwrite(osp.join(args.out_dir, f'item_{idx:05d}.jpg'), picture)
        bar.update()
    print(f'\n{stop - args.start} pictures written to {args.out_dir}')


if __name__ == '__main__':
    main()
