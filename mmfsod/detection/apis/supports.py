"""Support sets given by a user: a few boxes per class, from a COCO json, a
Python list or a template file, checked and turned into support inputs.

A *support set* is an ordered ``dict`` class name -> list of records; a
record is ``dict(img=<path or (H, W, 3) uint8 BGR array>, img_path=str or
None, bbox=[x1, y1, x2, y2] (pixels of that image), img_id, ann_id)``. The
class order is the label order of the detections.

Every source goes through :func:`build_supports`: the image is decoded as
``LoadImageFromFile`` decodes it (``mmcv.imfrombytes``, cv2, colour) or
taken as given, then runs through the rest of the config's support pipeline
(``CropSupportInstance``, ``Resize``, ``Pad``, ``PackDetInputs``), exactly
what :class:`~mmfsod.detection.engine.SupportTemplateHook` does with the
templates of a checkpoint; the detector normalises the result with its data
preprocessor (``normalize_supports``). So the same boxes give the same
detections whatever their source.
"""
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import mmengine
import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from ..datasets.query_support import pack_supports
from ..datasets.support_templates import TEMPLATE_VERSION, check_support_templates
from .io import atomic_write, dump_json_atomic
from .paths import find_image_dir, image_dir_candidates

SupportSet = Dict[str, List[dict]]
SupportItem = Tuple[Union[str, np.ndarray], Sequence, str]


# ------------------------------------------------------------------ checks
def _check_classes(classes: Optional[Sequence[str]], where: str) -> Optional[List[str]]:
    if classes is None:
        return None
    if isinstance(classes, str):
        classes = [classes]
    classes = list(classes)
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        raise ValueError(f'{where}: classes named twice: {twice}')
    if not classes:
        raise ValueError(f'{where}: an empty class list')
    return classes


def _select(support_set: SupportSet, classes: Optional[Sequence[str]],
            where: str) -> SupportSet:
    """Keep ``classes`` (in that order); each needs support boxes."""
    classes = _check_classes(classes, where)
    if classes is None:
        classes = list(support_set)
    empty = [c for c in classes if not support_set.get(c)]
    if empty:
        raise ValueError(f'{where}: no support boxes for classes {empty} (classes with '
                         f'boxes: {[c for c in support_set if support_set[c]]})')
    return OrderedDict((c, support_set[c]) for c in classes)


def check_box(bbox: Sequence[float], height: int, width: int, what: str) -> List[float]:
    """An ``x1, y1, x2, y2`` box clipped to its ``height x width`` image, as
    floats. A box partly outside its image is clipped and kept (as training
    keeps such boxes); ``ValueError`` naming ``what`` when the box is not 4
    finite numbers, has no area, or has nothing left inside the image."""
    try:
        box = [float(v) for v in bbox]
    except (TypeError, ValueError):
        box = None
    if box is None or len(box) != 4 or not all(np.isfinite(box)):
        raise ValueError(f'{what}: a box must be 4 numbers x1, y1, x2, y2, got {bbox!r}')
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f'{what}: box {box} has zero area (x1, y1, x2, y2 with x2 > x1 '
                         'and y2 > y1 needed)')
    clipped = [min(max(x1, 0.), width), min(max(y1, 0.), height),
               min(max(x2, 0.), width), min(max(y2, 0.), height)]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise ValueError(f'{what}: box {box} is outside its image ({width} x {height} '
                         'pixels, x1, y1, x2, y2): nothing is left inside it')
    return clipped


def load_support_image(img: Union[str, np.ndarray], what: str = 'support') -> np.ndarray:
    """A support image as ``LoadImageFromFile`` gives it: (H, W, 3) uint8 BGR."""
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'{what}: an image array must be (H, W, 3) uint8 BGR, got '
                             f'{img.dtype} {img.shape}')
        return img
    if not isinstance(img, str):
        raise TypeError(f'{what}: an image is a path or an (H, W, 3) uint8 array, got '
                        f'{type(img).__name__}')
    if not osp.isfile(img):
        raise FileNotFoundError(f'{what}: support image not found: {img}')
    try:
        out = mmcv.imfrombytes(mmengine.fileio.get(img), flag='color', backend='cv2')
    except Exception as exc:  # a decoder's own error: name the file
        raise ValueError(f'{what}: cannot read the support image {img}: {exc}') from exc
    if out is None:
        raise ValueError(f'{what}: cannot read the support image {img} (not an image?)')
    return out


# ----------------------------------------------------------------- sources
def supports_from_list(items: Sequence[SupportItem],
                       classes: Optional[Sequence[str]] = None) -> SupportSet:
    """``[(image path or array, boxes, class name), ...]``; ``boxes`` is one
    ``[x1, y1, x2, y2]`` or a list of them (pixels of that image)."""
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError('supports: an empty list (give (image, boxes, class name) items)')
    out: SupportSet = OrderedDict()
    for i, item in enumerate(items):
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise ValueError(f'supports[{i}]: an item is (image path or array, boxes, '
                             f'class name), got {type(item).__name__}')
        img, boxes, name = item
        if not isinstance(name, str) or not name:
            raise ValueError(f'supports[{i}]: the class name must be a non-empty string, '
                             f'got {name!r}')
        boxes = np.asarray(boxes, dtype=object)
        boxes = [boxes.tolist()] if boxes.ndim == 1 else boxes.tolist()
        if not boxes:
            raise ValueError(f'supports[{i}]: no box for class {name!r}')
        path = img if isinstance(img, str) else None
        for j, box in enumerate(boxes):
            out.setdefault(name, []).append(dict(
                img=img, img_path=path, bbox=box, img_id=i, ann_id=-1,
                where=f'supports[{i}] ({path or "array"}), box {j} of {name!r}'))
    return _select(out, classes, 'supports')


def supports_from_coco(path: str, img_dir: Optional[str] = None,
                       classes: Optional[Sequence[str]] = None,
                       config_dirs: Sequence[str] = ()) -> SupportSet:
    """Every box of a COCO-format json (``bbox`` x, y, w, h); crowd boxes
    are left out. Images under ``img_dir``; without it, under the first
    folder of :func:`image_dir_candidates` (``config_dirs`` first) that holds
    them (the folder is logged)."""
    coco = _read_json(path)
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            raise ValueError(f'{path}: not a COCO json, no {key!r}')
    if not coco['annotations']:
        raise ValueError(f'{path}: a support json with no annotations')
    names = [c['name'] for c in coco['categories']]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f'{path}: categories named twice: {twice}')
    cat_names = {c['id']: c['name'] for c in coco['categories']}
    images = {im['id']: im for im in coco['images']}
    if img_dir is None:
        used = {ann.get('image_id') for ann in coco['annotations']}
        root = find_image_dir(path, [im['file_name'] for im in coco['images']
                                     if im.get('id') in used],
                              image_dir_candidates(path, config_dirs), '--support-img-dir')
        print_log(f'{path}: support images under {root}', logger='current')
    else:
        root = img_dir
    out: SupportSet = OrderedDict((n, []) for n in names)
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0):
            continue
        if ann.get('category_id') not in cat_names:
            raise ValueError(f'{path}: annotation {ann.get("id")} has category_id '
                             f'{ann.get("category_id")!r}, not a category of the file')
        im = images.get(ann.get('image_id'))
        if im is None:
            raise ValueError(f'{path}: annotation {ann.get("id")} is of image '
                             f'{ann.get("image_id")!r}, not an image of the file')
        x, y, w, h = ann['bbox']
        img_path = osp.join(root, im['file_name'])
        name = cat_names[ann['category_id']]
        out[name].append(dict(img=img_path, img_path=img_path, bbox=[x, y, x + w, y + h],
                              img_id=int(im['id']), ann_id=int(ann.get('id', -1)),
                              where=f'{path}: annotation {ann.get("id")} ({name!r}, '
                              f'{img_path})'))
    if classes is None:  # the classes that have boxes, in category order
        classes = [n for n in names if out[n]]
    return _select(out, classes, path)


def supports_from_templates(templates: dict, classes: Optional[Sequence[str]] = None,
                            where: str = 'support templates') -> SupportSet:
    """A template set (the checkpoint's meta, a ``support_templates.json``)."""
    check_support_templates(templates, where)
    order = list(templates.get('classes') or templates['templates'])
    order += [c for c in templates['templates'] if c not in order]
    out: SupportSet = OrderedDict()
    for name in order:
        for r in templates['templates'].get(name, []):
            out.setdefault(name, []).append(dict(
                img=r['img_path'], img_path=r['img_path'], bbox=r['bbox'],
                img_id=int(r['img_id']), ann_id=int(r.get('ann_id', -1)),
                where=f'{where}: a template of {name!r} ({r["img_path"]})'))
    return _select(out, classes, where)


def _read_json(path: str):
    if not osp.isfile(path):
        raise FileNotFoundError(f'support file not found: {path}')
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as exc:
        raise ValueError(f'{path}: not a json file ({exc})') from exc


def load_support_set(source, img_dir: Optional[str] = None,
                     classes: Optional[Sequence[str]] = None,
                     config_dirs: Sequence[str] = ()) -> SupportSet:
    """A support set from any of: a COCO json or template json path (or a
    list of such paths, merged), a list of ``(image, boxes, class name)``,
    a template-set dict, or a support set itself. ``img_dir`` and
    ``config_dirs``: see :func:`supports_from_coco`."""
    if isinstance(source, dict):
        if 'templates' in source:
            return supports_from_templates(source, classes)
        return _select(OrderedDict(source), classes, 'supports')
    if isinstance(source, str):
        source = [source]
    if isinstance(source, (list, tuple)) and source and all(
            isinstance(s, str) for s in source):
        merged: SupportSet = OrderedDict()
        for path in source:
            data = _read_json(path)
            part = (supports_from_templates(data, None, path)
                    if isinstance(data, dict) and 'templates' in data
                    else supports_from_coco(path, img_dir, config_dirs=config_dirs))
            for name, records in part.items():
                merged.setdefault(name, []).extend(records)
        return _select(merged, classes, ', '.join(source))
    return supports_from_list(source, classes)


# ------------------------------------------------------------ to the model
def build_supports(support_set: SupportSet, support_pipeline: Sequence[dict]
                   ) -> Dict[int, Tuple[torch.Tensor, InstanceData]]:
    """Check every box against its image and run it through the support
    pipeline: label (class order of ``support_set``) -> (inputs (K, 3, h, w)
    uint8, InstanceData of the K supports), as
    :meth:`QuerySupportDetector.set_support_templates` takes them.

    Also stores ``height``, ``width`` and the checked ``bbox`` (clipped to
    its image, :func:`check_box`) in the records.
    """
    pipeline = list(support_pipeline)
    first = pipeline[0]['type'] if pipeline else None
    if first not in ('LoadImageFromFile', 'mmdet.LoadImageFromFile'):
        raise ValueError('the support pipeline must start with LoadImageFromFile, got '
                         f'{first!r}')
    with DefaultScope.overwrite_default_scope('mmdet'):  # mmdet's and mmfsod's transforms
        rest = Compose(pipeline[1:])
    out = {}
    clipped = []
    for label, (name, records) in enumerate(support_set.items()):
        packed, refs = [], []
        for r in records:
            what = r.get('where', f'a support of {name!r}')
            img = load_support_image(r['img'], what)
            h, w = img.shape[:2]
            box = check_box(r['bbox'], h, w, what)
            if box != [float(v) for v in r['bbox']]:
                clipped.append(what)
            r['bbox'] = box
            r['height'], r['width'] = int(h), int(w)
            results = dict(img=img, img_path=r.get('img_path'), img_shape=(h, w),
                           ori_shape=(h, w), img_id=r['img_id'], height=h, width=w,
                           ann_id=r['ann_id'], support_class=label,
                           instances=[dict(bbox=list(r['bbox']), bbox_label=label,
                                           ignore_flag=0, ann_id=r['ann_id'])])
            packed.append(rest(results))
            refs.append(dict(label=label, img_id=r['img_id'], ann_id=r['ann_id'],
                             is_positive=True))
        out[label] = pack_supports(packed, refs, f'supports of {name!r}')
    if clipped:
        print_log(f'{len(clipped)} support box(es) partly outside their image clipped to it '
                  f'and kept, e.g. {clipped[0]}', logger='current')
    return out


# --------------------------------------------------------------- to files
def materialise_arrays(support_set: SupportSet, img_dir: str) -> SupportSet:
    """Write the array images of ``support_set`` as PNG (lossless) under
    ``img_dir``, so that every record has a path; returns the new set."""
    out: SupportSet = OrderedDict()
    written: Dict[int, str] = {}
    for name, records in support_set.items():
        out[name] = []
        for r in records:
            r = dict(r)
            if r.get('img_path') is None:
                key = id(r['img'])
                if key not in written:
                    os.makedirs(img_dir, exist_ok=True)
                    path = osp.join(img_dir, f'support_{len(written):04d}.png')
                    atomic_write(path, lambda tmp, img=r['img']: _write_png(img, tmp),
                                 suffix='.png')
                    written[key] = path
                r['img_path'] = r['img'] = written[key]
            out[name].append(r)
    return out


def _write_png(img: np.ndarray, path: str) -> None:
    if not mmcv.imwrite(img, path):
        raise OSError(f'could not write {path}')


def _filled(support_set: SupportSet) -> None:
    missing = [n for n, rs in support_set.items() for r in rs if 'height' not in r]
    if missing:
        raise ValueError(f'supports of {sorted(set(missing))} were not checked: run '
                         'build_supports first')


def support_set_to_templates(support_set: SupportSet, source: str = '') -> dict:
    """A template set (the checkpoint's format) of a support set whose
    images are all files (see :func:`materialise_arrays`)."""
    _filled(support_set)
    templates = OrderedDict()
    for name, records in support_set.items():
        templates[name] = [dict(img_path=r['img_path'], img_id=int(r['img_id']),
                                ann_id=int(r['ann_id']), bbox=[float(v) for v in r['bbox']],
                                height=int(r['height']), width=int(r['width']))
                           for r in records]
    return dict(version=TEMPLATE_VERSION, seed=0, num_shots=None, min_area=0.0,
                source=source, classes=list(support_set), templates=templates)


def support_set_to_coco(support_set: SupportSet) -> dict:
    """A COCO json of a support set whose images are files: one image per
    file, one annotation per box, categories in class order (ids 1..N)."""
    _filled(support_set)
    images: Dict[str, dict] = OrderedDict()
    annotations = []
    for cat_id, (name, records) in enumerate(support_set.items(), 1):
        for r in records:
            path = osp.abspath(r['img_path'])
            im = images.setdefault(path, dict(id=len(images) + 1, file_name=path,
                                              height=int(r['height']),
                                              width=int(r['width'])))
            x1, y1, x2, y2 = r['bbox']
            annotations.append(dict(id=len(annotations) + 1, image_id=im['id'],
                                    category_id=cat_id, bbox=[x1, y1, x2 - x1, y2 - y1],
                                    area=(x2 - x1) * (y2 - y1), iscrowd=0))
    categories = [dict(id=i, name=n) for i, n in enumerate(support_set, 1)]
    return dict(images=list(images.values()), annotations=annotations,
                categories=categories)


def save_support_set(support_set: SupportSet, path: str, source: str = '') -> str:
    """Write a support set as a template json (images of arrays as PNG in
    ``<path without .json>_images/``); whole or not at all."""
    folder = osp.splitext(path)[0] + '_images'
    support_set = materialise_arrays(support_set, folder)
    dump_json_atomic(support_set_to_templates(support_set, source), path)
    return path
