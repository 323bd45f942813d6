"""A short K-shot fine-tuning on a user's support boxes.

The fine-tuning config (for the toy benchmark
``configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_10shot-fine-tuning.py``) gives
the model with its frozen parts, the optimiser, the query-support sampling
and the shape of the schedule; :func:`build_fine_tune_config` swaps its
training set for the support boxes (a COCO json written in the work
folder: the K-shot protocol, where only the support boxes are annotated)
and stretches the schedule to ``iters`` iterations. The checkpoint records
the supports as its templates (``SupportTemplateHook(num_shots=None)``),
so that :class:`FewShotDetInferencer` and ``tools/test.py`` use them.
"""
import copy
import os
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

from mmengine.config import Config

from mmfsod.utils.config_derived import resolve_derived
from .few_shot_inferencer import find_support_pipeline
from .io import atomic_write, dump_json_atomic
from .paths import config_image_dirs
from .supports import (SupportSet, build_supports, load_support_set, materialise_arrays,
                       support_set_to_coco)


def _rescaled(schedulers, old: int, new: int) -> list:
    """Iteration-based schedulers of an ``old``-iteration schedule moved to
    ``new`` iterations (``begin``, ``end``, ``milestones`` scaled)."""
    out = []
    for s in copy.deepcopy(list(schedulers or [])):
        if s.get('by_epoch', True):
            raise ValueError(f'fine-tuning on supports needs iteration-based schedulers '
                             f'(by_epoch=False), got {s}')
        for key in ('begin', 'end'):
            if key in s:
                s[key] = int(round(s[key] * new / old))
        if 'milestones' in s:
            s['milestones'] = sorted({min(new, max(1, int(round(m * new / old))))
                                      for m in s['milestones']})
        out.append(s)
    return out


def build_fine_tune_config(cfg: Config, checkpoint: str, ann_file: str,
                           classes: Sequence[str], num_shots: int, iters: int,
                           work_dir: str) -> Config:
    """``cfg`` (a fine-tuning config) trained for ``iters`` iterations from
    ``checkpoint`` on the boxes of ``ann_file`` (COCO, ``classes``)."""
    where = cfg.filename or 'the fine-tuning config'
    if not isinstance(iters, int) or iters < 1:
        raise ValueError(f'fine-tuning iterations must be an integer >= 1, got {iters!r}')
    qs = cfg.get('train_dataloader', {}).get('dataset', {})
    if qs.get('type') != 'QuerySupportDataset':
        raise ValueError(f'{where}: train_dataloader.dataset must be a QuerySupportDataset '
                         f'to fine-tune on supports, got {qs.get("type")!r}')
    old_iters = cfg.get('train_cfg', {}).get('max_iters')
    if not old_iters:
        raise ValueError(f'{where}: train_cfg.max_iters is needed (an iteration-based '
                         'fine-tuning schedule)')
    support_pipeline = find_support_pipeline(cfg)
    ft = copy.deepcopy(cfg)
    inner = qs['dataset']
    ft.train_dataloader.dataset = dict(
        type='QuerySupportDataset',
        num_support_ways=min(int(qs.get('num_support_ways', 2)), len(classes)),
        # None (the configs' K-shot default): every given box of a class
        num_support_shots=(num_shots if qs.get('num_support_shots', 1) is None
                           else min(int(qs['num_support_shots']), num_shots)),
        repeat=1, seed=int(qs.get('seed', 0)), min_support_area=0.0,
        support_pipeline=support_pipeline,
        dataset=dict(type='FewShotCocoDataset', data_root='', ann_file=ann_file,
                     data_prefix=dict(img=''), classes=list(classes),
                     filter_cfg=dict(filter_empty_gt=True, min_size=0),
                     pipeline=inner['pipeline'], backend_args=inner.get('backend_args')))
    ft.train_cfg = dict(type='IndexSkipIterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    ft.param_scheduler = _rescaled(cfg.get('param_scheduler'), old_iters, iters)
    ft.val_dataloader = ft.val_cfg = ft.val_evaluator = None
    ft.custom_hooks = [dict(type='SupportTemplateHook', num_shots=None,
                            support_pipeline=support_pipeline)]
    ft.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters,
                                       by_epoch=False, max_keep_ckpts=1)
    logger = ft.default_hooks.get('logger') or dict(type='LoggerHook')
    logger['interval'] = max(1, min(int(logger.get('interval', 50)), iters // 5 or 1))
    ft.default_hooks.logger = logger
    ft.load_from = checkpoint
    ft.resume = False
    ft.work_dir = work_dir
    return ft


def fine_tune_on_supports(config: Union[str, Config], checkpoint: str, supports,
                          work_dir: str, iters: int, img_dir: Optional[str] = None,
                          classes: Optional[Sequence[str]] = None) -> Tuple[str, str]:
    """Fine-tune ``checkpoint`` for ``iters`` iterations on ``supports``
    (any source of :func:`~mmfsod.detection.apis.supports.load_support_set`).

    Writes under ``work_dir``: ``supports/`` (the support json, and array
    images as PNG), ``few_shot_fine-tuning.py`` (the config run) and the
    checkpoint, with the supports as its templates.

    Returns:
        tuple: (config path, checkpoint path).
    """
    from mmengine.runner import Runner
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    resolve_derived(cfg)  # '${key}' fields (mmfsod/utils/config_derived.py)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    support_set: SupportSet = load_support_set(supports, img_dir, classes,
                                               config_dirs=config_image_dirs(cfg))
    build_supports(support_set, find_support_pipeline(cfg))  # checks every box
    work_dir = osp.abspath(work_dir)
    support_set = materialise_arrays(support_set, osp.join(work_dir, 'supports', 'images'))
    ann_file = dump_json_atomic(support_set_to_coco(support_set),
                                osp.join(work_dir, 'supports', 'instances_supports.json'))
    ft = build_fine_tune_config(cfg, checkpoint, ann_file, list(support_set),
                                min(len(v) for v in support_set.values()), iters, work_dir)
    cfg_path = osp.join(work_dir, 'few_shot_fine-tuning.py')
    os.makedirs(work_dir, exist_ok=True)
    atomic_write(cfg_path, ft.dump, suffix='.py')
    runner = Runner.from_cfg(ft)
    runner.train()
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if not osp.isfile(ckpt):
        raise RuntimeError(f'fine-tuning finished without writing {ckpt}')
    return cfg_path, ckpt
