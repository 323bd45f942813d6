"""Support templates: the support instances a few-shot detector is tested with.

A query-aware detector is tested against a fixed set of support instances per
class, its *templates*. At fine-tuning they are the K-shot instances the
model was fine-tuned on; for base training, a seeded sample of each base
class. They are chosen once (:func:`select_support_templates`), recorded in
the checkpoint's meta and as json next to it
(:class:`~mmfsod.detection.engine.SupportTemplateHook`), and read back by
``tools/test.py``, so that a test run depends on the checkpoint alone.

A template set is a json-able dict::

    dict(version=1, seed=0, num_shots=None or K, source='<ann file or dir>',
         classes=[name, ...],
         templates={name: [dict(img_path, img_id, ann_id, bbox=[x1, y1, x2, y2],
                                height, width), ...]})
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.structures import InstanceData

from mmfsod.compat.atomic import atomic_open
from .query_support import box_area, pack_supports

TEMPLATE_VERSION = 1


def unwrap_support_source(dataset):
    """The dataset supports come from: a :class:`QuerySupportDataset`'s
    support dataset, or the dataset inside mmengine's wrappers."""
    seen = 0
    while seen < 10:
        if hasattr(dataset, 'support_dataset'):
            dataset = dataset.support_dataset
        elif hasattr(dataset, 'dataset') and not hasattr(dataset, 'data_list'):
            dataset = dataset.dataset
        else:
            return dataset
        seen += 1
    return dataset


def select_support_templates(dataset, num_shots: Optional[int] = None,
                             classes: Optional[Sequence[str]] = None,
                             seed: int = 0, min_area: Optional[float] = None) -> dict:
    """Choose the templates of ``classes`` from ``dataset``.

    Args:
        dataset: a detection dataset (or a wrapper of one) whose data infos
            have ``instances`` with ``bbox``, ``bbox_label``, ``ann_id``.
        num_shots (int, optional): templates per class; ``None`` takes every
            instance (the K-shot set at fine-tuning). Otherwise a seeded
            sample without replacement (all of them if a class has fewer).
        classes (Sequence[str], optional): defaults to every class of the
            dataset.
        seed (int): seed of the sample.
        min_area (float, optional): leave out instances whose box area is
            below this. ``None``: the ``min_support_area`` of the
            :class:`QuerySupportDataset` given (the supports it trains on),
            else 0.
    """
    if min_area is None:
        min_area = getattr(dataset, 'min_support_area', 0.0)
    dataset = unwrap_support_source(dataset)
    dataset.full_init()
    names = tuple(dataset.metainfo['classes'])
    classes = names if classes is None else tuple(classes)
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ValueError(f'support templates: classes {unknown} are not classes of '
                         f'{type(dataset).__name__} ({list(names)})')
    if num_shots is not None and (not isinstance(num_shots, int) or num_shots < 1):
        raise ValueError(f'support templates: num_shots must be >= 1 or None, '
                         f'got {num_shots!r}')
    per_label: Dict[int, List[dict]] = {names.index(c): [] for c in classes}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        for inst in info['instances']:
            if (inst.get('ignore_flag', 0) or inst['bbox_label'] not in per_label
                    or box_area(inst['bbox']) < min_area):
                continue
            per_label[inst['bbox_label']].append(dict(
                img_path=info['img_path'], img_id=int(info['img_id']),
                ann_id=int(inst.get('ann_id', -1)),
                bbox=[float(v) for v in inst['bbox']],
                height=int(info['height']), width=int(info['width'])))
    empty = [names[k] for k, v in per_label.items() if not v]
    if empty:
        raise ValueError(f'support templates: no instance of {empty} '
                         + (f'with a box area >= {min_area:g} ' if min_area else '')
                         + f'in {type(dataset).__name__} '
                         f'({getattr(dataset, "ann_file", "")})')
    rng = np.random.default_rng(seed)
    templates = {}
    for label, records in per_label.items():
        if num_shots is not None and len(records) > num_shots:
            picks = sorted(rng.choice(len(records), num_shots, replace=False).tolist())
            records = [records[p] for p in picks]
        templates[names[label]] = records
    source = getattr(dataset, '_source', None) or getattr(dataset, 'ann_file', '')
    return dict(version=TEMPLATE_VERSION, seed=int(seed), num_shots=num_shots,
                min_area=float(min_area), source=str(source), classes=list(classes),
                templates=templates)


def check_support_templates(templates: dict, where: str = 'support templates') -> dict:
    """Validate a template set's structure; errors name ``where``."""
    if not isinstance(templates, dict) or 'templates' not in templates:
        raise ValueError(f'{where}: not a support template set (no "templates")')
    if templates.get('version') != TEMPLATE_VERSION:
        raise ValueError(f'{where}: template version {templates.get("version")!r}, '
                         f'this mmfsod reads {TEMPLATE_VERSION}')
    for name, records in templates['templates'].items():
        if not records:
            raise ValueError(f'{where}: class {name!r} has no template')
        for r in records:
            missing = {'img_path', 'bbox', 'img_id'} - set(r)
            if missing:
                raise ValueError(f'{where}: a template of {name!r} lacks {sorted(missing)}')
    return templates


def save_support_templates(templates: dict, path: str) -> None:
    """Write ``templates`` as JSON to ``path`` atomically (a temporary file
    renamed over ``path``: a kill leaves the old file or the new one)."""
    with atomic_open(path, 'w') as f:
        json.dump(templates, f, indent=1)


def load_support_templates(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'support template file not found: {path}')
    with open(path) as f:
        return check_support_templates(json.load(f), path)


def build_template_supports(templates: dict, pipeline, classes: Sequence[str],
                            where: str = 'support templates'
                            ) -> Dict[int, Tuple[torch.Tensor, InstanceData]]:
    """Run every template of ``classes`` through a support pipeline.

    Args:
        templates (dict): a template set.
        pipeline (list[dict] | Compose): the support pipeline.
        classes (Sequence[str]): the classes of the test set, in label order;
            every one needs templates.

    Returns:
        dict: label -> (inputs (K, 3, h, w), InstanceData of the K supports).
    """
    check_support_templates(templates, where)
    missing = [c for c in classes if c not in templates['templates']]
    if missing:
        raise ValueError(f'{where}: no support templates for classes {missing} '
                         f'(templates exist for {sorted(templates["templates"])})')
    pipeline = pipeline if isinstance(pipeline, Compose) else Compose(pipeline)
    out = {}
    for label, name in enumerate(classes):
        packed, refs = [], []
        for r in templates['templates'][name]:
            info = dict(img_path=r['img_path'], img_id=r['img_id'],
                        height=r.get('height'), width=r.get('width'),
                        ann_id=r.get('ann_id', -1), support_class=label,
                        instances=[dict(bbox=list(r['bbox']), bbox_label=label,
                                        ignore_flag=0, ann_id=r.get('ann_id', -1))])
            packed.append(pipeline(info))
            refs.append(dict(label=label, img_id=r['img_id'],
                             ann_id=r.get('ann_id', -1), is_positive=True))
        out[label] = pack_supports(packed, refs, where)
    return out
