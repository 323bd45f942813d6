"""Training losses of a query-support detector on the pairs of one class group.

    python tools/analysis_tools/pair_loss.py CONFIG CKPT [CKPT ...] \
        [--group NOVEL_CLASSES] [--num-items 40] [--batch-size 2] [--device auto]

For every checkpoint, the same items of the config's training set (a
:class:`QuerySupportDataset`, whose items are seeded) whose positive class is
in ``--group`` (a split name of the dataset's ``class_splits``, or class
names) go through the model in ``loss`` mode, without gradients and with the
same seed for the RPN and RoI samplers; the mean of every loss term is
printed, one row per checkpoint. E.g. the base-training and the fine-tuning
checkpoints on the novel classes' pairs: does fine-tuning lower the novel
classes' loss.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

from mmfsod.detection.datasets.class_splits import resolve_classes  # noqa: E402
from mmfsod.utils.device import add_device_arg  # noqa: E402
from mmfsod.utils.tools import load_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config whose training set is a '
                        'QuerySupportDataset')
    parser.add_argument('checkpoints', nargs='+', help='checkpoints to compare')
    parser.add_argument('--group', default='NOVEL_CLASSES',
                        help='split name or comma-separated class names')
    parser.add_argument('--num-items', type=int, default=40,
                        help='pairs of the group to average over')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0, help='seed of the samplers')
    add_device_arg(parser)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def group_items(dataset, group: str, num_items: int):
    """Indices of the first ``num_items`` items whose positive class is in
    ``group``, and the group's class names."""
    classes = dataset.metainfo['classes']
    source = dataset.dataset
    names = resolve_classes(group if group in ('BASE_CLASSES', 'NOVEL_CLASSES',
                                               'ALL_CLASSES') else group.split(','),
                            getattr(source, 'class_splits', None), '--group')
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise SystemExit(f'--group: {unknown} are not classes of the training set '
                         f'{list(classes)}')
    labels = {classes.index(n) for n in names}
    items = [i for i in range(len(dataset))
             if dataset.sample_pair(i)['query_class'] in labels][:num_items]
    if not items:
        raise SystemExit(f'no training pair has a positive class in {names}')
    return items, names


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmdet.registry import DATASETS, MODELS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    if not hasattr(dataset, 'sample_pair'):
        raise SystemExit(f'{args.config}: the training set is a '
                         f'{type(dataset).__name__}, not a QuerySupportDataset')
    items, names = group_items(dataset, args.group, args.num_items)
    print(f'{len(items)} training pairs whose positive class is one of {list(names)}')
    rows = []
    for ckpt in args.checkpoints:
        model = MODELS.build(cfg.model)
        load_checkpoint(model, ckpt, map_location='cpu', logger='current')
        model.to(args.device).train()
        torch.manual_seed(args.seed)
        sums, count = {}, 0
        bar = ProgressBar(len(items))
        for start in range(0, len(items), args.batch_size):
            batch = pseudo_collate([dataset[i] for i in items[start:start + args.batch_size]])
            with torch.no_grad():
                data = model.data_preprocessor(batch, True)
                _, log = model.parse_losses(model(**data, mode='loss'))
            n = len(batch['inputs'])
            for key, value in log.items():
                sums[key] = sums.get(key, 0.0) + float(value) * n
            count += n
            for _ in range(n):
                bar.update()
        print()
        rows.append((ckpt, {k: v / count for k, v in sums.items()}))
    keys = [k for k in rows[0][1] if k.startswith('loss')]
    header = ['checkpoint'] + keys
    table = [[osp.relpath(ckpt)] + [f'{losses[k]:.4f}' for k in keys]
             for ckpt, losses in rows]
    widths = [max(len(r[i]) for r in table + [header]) for i in range(len(header))]
    for row in [header, ['-' * w for w in widths]] + table:
        print(' | '.join(c.rjust(w) for c, w in zip(row, widths)))


if __name__ == '__main__':
    main()
