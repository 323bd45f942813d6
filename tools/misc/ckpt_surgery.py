"""TFA's checkpoint surgery on the box predictor (the last classifier and
regressor) of an mmdet two-stage detector checkpoint.

    # base model -> all classes, the novel rows random (TFA on COCO)
    python tools/misc/ckpt_surgery.py randinit BASE_CKPT --config FT_CONFIG --out OUT.pth
    # base model without its box predictor (novel-only fine-tuning)
    python tools/misc/ckpt_surgery.py remove BASE_CKPT --out OUT.pth
    # base model + novel-only fine-tuned model -> all classes
    python tools/misc/ckpt_surgery.py combine BASE_CKPT NOVEL_CKPT --config FT_CONFIG --out OUT.pth

The classes of each checkpoint are those its training recorded
(``meta['dataset_meta']['classes']``, written by mmengine's runner), or
those of ``--src-config`` (one config per checkpoint: its training set's
classes). The target classes are ``--config``'s training set's, in its
order; the config's ``num_classes`` must agree. Rows move by class name,
the background row stays last (mmdet's order); see
``mmfsod/detection/models/utils/box_predictor_surgery.py``. The output keeps
the state dict and the meta (with the target classes and what was done);
it is written whole or not at all.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Tuple

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import torch  # noqa: E402

from mmfsod.utils.tools import load_config  # noqa: E402


def config_classes(path: str) -> Tuple[Tuple[str, ...], Optional[int]]:
    """The classes of ``path``'s training set, and its model's
    ``roi_head.bbox_head.num_classes`` (None where it has none)."""
    from mmengine.registry import init_default_scope

    from mmfsod.detection.datasets.class_splits import resolve_classes
    from mmdet.registry import DATASETS
    cfg = load_config(path)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    ds, where = cfg.train_dataloader.dataset, 'train_dataloader.dataset'
    while 'classes' not in ds and 'dataset' in ds:
        ds, where = ds['dataset'], where + '.dataset'
    classes = ds.get('classes')
    if classes is None:
        dataset_cls = DATASETS.get(ds['type'])
        if dataset_cls is None or 'classes' not in getattr(dataset_cls, 'METAINFO', {}):
            raise ValueError(f'{path}: {where} gives no classes and {ds["type"]} has '
                             'no METAINFO classes')
        classes = dataset_cls.METAINFO['classes']
    names = resolve_classes(classes, ds.get('class_splits'), f'{path}: {where}.classes')
    head = cfg.model.get('roi_head', {}).get('bbox_head', {})
    return tuple(names), head.get('num_classes') if isinstance(head, dict) else None


def load_source(path: str, src_config: Optional[str]) -> Tuple[dict, dict, Tuple[str, ...]]:
    """``(checkpoint, state_dict, classes)`` of one source checkpoint."""
    from mmengine.runner.checkpoint import _load_checkpoint
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    ckpt = _load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    if src_config is not None:
        classes = config_classes(src_config)[0]
    else:
        classes = (ckpt.get('meta') or {}).get('dataset_meta', {}).get('classes')
        if not classes:
            raise ValueError(f'checkpoint {path} records no classes (meta.dataset_meta.'
                             'classes); give the config it was trained with as --src-config')
    return ckpt, state, tuple(classes)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('method', choices=['randinit', 'remove', 'combine'],
                        help='randinit: novel rows random; remove: no box predictor; '
                        'combine: base rows from the first, novel rows from the second')
    parser.add_argument('checkpoints', nargs='+',
                        help='the base model (and, for combine, the novel-only model)')
    parser.add_argument('--config', help='the fine-tuning config: its training set '
                        'gives the target classes (randinit, combine)')
    parser.add_argument('--src-config', nargs='+',
                        help='per checkpoint, the config it was trained with (where '
                        'its meta records no classes)')
    parser.add_argument('--out', required=True, help='the new checkpoint (.pth)')
    parser.add_argument('--seed', type=int, default=0, help="randinit's new rows")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    from mmfsod.compat.atomic import atomic_open
    from mmfsod.detection.models.utils import SurgeryError, box_predictor_surgery
    args = parse_args(argv)
    want = 2 if args.method == 'combine' else 1
    if len(args.checkpoints) != want:
        raise SystemExit(f'error: {args.method} takes {want} checkpoint(s), got '
                         f'{len(args.checkpoints)}')
    if args.src_config is not None and len(args.src_config) != want:
        raise SystemExit(f'error: --src-config takes one config per checkpoint ({want})')
    classes = None
    if args.method != 'remove':
        if args.config is None:
            raise SystemExit(f'error: {args.method} needs --config (the fine-tuning '
                             'config whose classes the new head has)')
        classes, num_classes = config_classes(args.config)
        if num_classes is not None and num_classes != len(classes):
            raise SystemExit(f'error: {args.config}: model.roi_head.bbox_head.num_classes '
                             f'is {num_classes}, its training set has {len(classes)} classes')
    srcs = [load_source(p, None if args.src_config is None else args.src_config[i])
            for i, p in enumerate(args.checkpoints)]
    try:
        state = box_predictor_surgery(
            args.method, [(s, c, p) for (_, s, c), p in zip(srcs, args.checkpoints)],
            classes, seed=args.seed)
    except SurgeryError as err:
        raise SystemExit(f'error: {err}')
    meta = dict(srcs[0][0].get('meta') or {})
    meta.pop('dataset_meta', None)
    if classes is not None:
        meta['dataset_meta'] = dict(classes=list(classes))
    meta['surgery'] = dict(method=args.method, sources=list(args.checkpoints),
                           config=args.config, seed=args.seed)
    with atomic_open(args.out, 'wb') as f:
        torch.save(dict(state_dict=state, meta=meta), f)
    new = f'{len(classes)} classes' if classes is not None else 'no box predictor'
    print(f'{args.method}: {", ".join(args.checkpoints)} -> {args.out} ({new})')


if __name__ == '__main__':
    from mmfsod.utils.tools import run_main
    run_main(main)
