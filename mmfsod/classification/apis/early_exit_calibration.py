"""Calibrate PatchClassifier's early-exit thresholds on held-out images.

One pass of the all-patch pipeline over a calibration split records every
image's patch softmaxes (:func:`record_split`); the stage table, the
threshold sweep and the choice for a target are the plain functions of
:mod:`mmfsod.classification.early_exit`; :func:`plot_sweep` draws top-1
against GMACs per image, and :func:`write_exit_config` writes the chosen
thresholds as a config that inherits the calibrated one.
``tools/analysis_tools/calibrate_early_exit.py`` is the command line.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import load_checkpoint
from mmengine.utils import ProgressBar

from ...compat.atomic import atomic_open
from ...utils.device import resolve_device
from .. import early_exit

CALIBRATION_KEY = 'calibration_dataloader'


def load_patch_classifier(config: str, checkpoint: str,
                          cfg_options: Optional[dict] = None,
                          device: str = 'auto') -> Tuple[torch.nn.Module, Config]:
    """The config's ``PatchClassifier`` (the top-level ``data_preprocessor``
    merged as the Runner does) with ``checkpoint`` loaded (``'none'`` keeps
    the initial weights; a checkpoint saved on any device is read to the
    CPU first), on ``device`` (:func:`~mmfsod.utils.device.resolve_device`:
    ``'auto'``, ``'cpu'``, ``'cuda[:N]'``), in eval mode, and the config."""
    device = resolve_device(device, 'device')
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.to_dict()
    if model_cfg.get('type') != 'PatchClassifier':
        raise ValueError(f'{config}: model.type is {model_cfg.get("type")!r}, not '
                         'PatchClassifier')
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor.to_dict())
    model = MODELS.build(model_cfg)
    if checkpoint.lower() != 'none':
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} (for {config}) does '
                                    'not exist')
        load_checkpoint(model, checkpoint, map_location='cpu', logger='current')
    return model.to(device).eval(), cfg


def calibration_loader_cfg(cfg: Config, config_path: str) -> dict:
    """The config's ``calibration_dataloader``, checked not to be its test
    split (calibrating on the test split would report a tuned result)."""
    loader = cfg.get(CALIBRATION_KEY)
    if loader is None:
        raise KeyError(f'{config_path}: no `{CALIBRATION_KEY}`; add one that reads '
                       'held-out training images (never the test split), e.g. '
                       "test_dataloader with dataset.split='holdout' on the toy set")
    loader = loader.to_dict() if hasattr(loader, 'to_dict') else dict(loader)
    test = cfg.get('test_dataloader')
    if test is not None:
        test_ds = test.to_dict()['dataset']
        keys = ('type', 'data_root', 'split', 'ann_file', 'data_prefix')
        if all(loader['dataset'].get(k) == test_ds.get(k) for k in keys):
            raise ValueError(f'{config_path}: `{CALIBRATION_KEY}` reads the test split '
                             f'({ {k: test_ds.get(k) for k in keys if k in test_ds} }); '
                             'calibrate on held-out training images instead')
    return loader


def describe_split(loader_cfg: dict) -> str:
    """Which images a dataloader config reads, in words."""
    ds = loader_cfg['dataset']
    parts = [f'{ds.get("type")}']
    for key in ('data_root', 'split', 'ann_file', 'indices'):
        if ds.get(key) not in (None, ''):
            parts.append(f'{key}={ds[key]}')
    return ' '.join(parts)


def record_split(model, loader_cfg: dict, num_images: Optional[int] = None,
                 device: Optional[str] = None) -> List[dict]:
    """Predict every image of the split with ``model`` (its own exit
    setting: give the all-patch pipeline, ``exit_cfg=None``, for the stage
    table) on ``device`` (``None``: the model's); one record per image:
    ``patch_scores`` (list of per-patch softmaxes), ``label``,
    ``localizer_macs``, ``patch_macs`` (one patch), ``classifier_macs``,
    ``branch``, ``img_path``."""
    device = next(model.parameters()).device if device is None else \
        resolve_device(device, 'device')
    loader_cfg = dict(loader_cfg)
    if num_images is not None:
        loader_cfg['dataset'] = dict(loader_cfg['dataset'], indices=int(num_images))
    loader_cfg['persistent_workers'] = False
    loader = Runner.build_dataloader(loader_cfg)
    if len(loader.dataset) == 0:
        raise ValueError(f'the calibration split has no image ({describe_split(loader_cfg)})')
    records = []
    progress = ProgressBar(len(loader.dataset))
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            preds = model.predict(data['inputs'].to(device), data['data_samples'])
            for pred in preds:
                gt = pred.get('gt_label')
                if gt is None or torch.as_tensor(gt).numel() == 0:
                    raise ValueError(f'{pred.get("img_path")}: no gt_label; the '
                                     'calibration split must be labelled')
                n = int(pred.num_patches)
                records.append(dict(
                    img_path=pred.get('img_path'), label=int(torch.as_tensor(gt)[0]),
                    patch_scores=pred.patch_scores.double().tolist(),
                    localizer_macs=int(pred.localizer_macs),
                    classifier_macs=int(pred.classifier_macs),
                    patch_macs=int(pred.classifier_macs) // max(n, 1),
                    branch=pred.get('branch')))
                progress.update()
    return records


def records_summary(records: Sequence[dict]) -> Dict[str, float]:
    """Top-1 (%), mean MACs and patches per image of a record list as it
    was predicted (the model's own exit setting)."""
    correct = [int(np.argmax(np.sum(r['patch_scores'], axis=0)) == r['label'])
               for r in records]
    return dict(top1=100.0 * float(np.mean(correct)),
                macs=float(np.mean([r['localizer_macs'] + r['classifier_macs']
                                    for r in records])),
                patches=float(np.mean([len(r['patch_scores']) for r in records])))


def stage_table(records: Sequence[dict], stages: Sequence[int],
                score: str) -> early_exit.StageTable:
    """:func:`early_exit.build_stage_table` of all-patch records."""
    return early_exit.build_stage_table(
        [np.asarray(r['patch_scores']) for r in records], [r['label'] for r in records],
        [r['localizer_macs'] for r in records], [r['patch_macs'] for r in records],
        stages, score)


def save_records(path: str, records: Sequence[dict], meta: dict) -> None:
    """The calibration records as one JSON file (written atomically: a
    temporary file in the same folder, then renamed)."""
    with atomic_open(path, 'w') as f:
        json.dump(dict(meta=meta, records=list(records)), f)


def load_records(path: str) -> Tuple[List[dict], dict]:
    """Records and metadata written by :func:`save_records`."""
    try:
        with open(path) as f:
            data = json.load(f)
        records, meta = data['records'], data['meta']
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f'{path}: not a calibration record file ({err})') from err
    if not records:
        raise ValueError(f'{path}: no records (an empty calibration split)')
    return records, meta


def write_exit_config(path: str, base_config: str, exit_cfg: dict, comment: str) -> None:
    """A config that inherits ``base_config`` and sets ``model.exit_cfg``."""
    text = (''.join(f'# {line}\n' for line in comment.splitlines())
            + f'_base_ = [{osp.abspath(base_config)!r}]\n\n'
            + 'model = dict(exit_cfg=dict(\n'
            + f'    stages={tuple(exit_cfg["stages"])!r},\n'
            + f'    thresholds={early_exit.format_thresholds(exit_cfg["thresholds"])},\n'
            + f'    score={exit_cfg["score"]!r}))\n')
    with atomic_open(path, 'w') as f:
        f.write(text)


def plot_sweep(path: str, results: Sequence[dict], chosen: Optional[dict],
               points: Dict[str, Dict[str, float]], title: str) -> None:
    """Top-1 against GMACs per image: every swept point, the Pareto front,
    the chosen point and the reference ``points`` (name -> top1, macs)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for family, marker, label in (('constant', 'o', 'one threshold'),
                                  ('decay', '^', 'decaying threshold'),
                                  ('budget', 's', 'budgeted (MSDNet)')):
        pts = [r for r in results if r['family'] == family]
        if pts:
            ax.scatter([r['macs'] / 1e9 for r in pts], [r['top1'] for r in pts],
                       s=12, marker=marker, alpha=0.45, label=f'early exit: {label}')
    front = early_exit.pareto_front(results)
    ax.plot([r['macs'] / 1e9 for r in front], [r['top1'] for r in front], '-',
            color='tab:blue', lw=1.2, label='early exit: Pareto front')
    markers = iter(['*', 'D', '^', 'v', 'P', 'X'])
    for name, p in points.items():
        ax.scatter([p['macs'] / 1e9], [p['top1']], s=70, marker=next(markers, 'o'),
                   label=name, zorder=3)
    if chosen is not None:
        ax.scatter([chosen['macs'] / 1e9], [chosen['top1']], s=140, facecolors='none',
                   edgecolors='red', linewidths=1.6, label='chosen thresholds', zorder=4)
    ax.set_xlabel('GMACs per image (AnchorNet included)')
    ax.set_ylabel('top-1 (%)')
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    try:
        with atomic_open(path, 'wb') as f:
            fig.savefig(f, format='png')
    finally:
        plt.close(fig)
