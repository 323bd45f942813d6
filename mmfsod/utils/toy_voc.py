"""The toy shapes set written in PASCAL VOC's layout.

The same images and boxes as the COCO toy set (:mod:`mmfsod.utils.toy_shapes`,
drawn by :func:`~mmfsod.utils.toy_shapes.draw_toy_image` and encoded alike),
as a VOC2007-like folder::

    out_dir/toy_voc_spec.json                 the generator arguments
    out_dir/VOC2007/JPEGImages/<id>.jpg
    out_dir/VOC2007/Annotations/<id>.xml
    out_dir/VOC2007/ImageSets/Main/trainval.txt   the toy train images
    out_dir/VOC2007/ImageSets/Main/test.txt       the toy val images

Ids are six digits: train image ``i`` is ``i + 1``, val image ``i`` is
``100001 + i``. An object whose box has a longer side below
:data:`DIFFICULT_MAX_SIDE` pixels is marked ``difficult`` (about one box in
ten), so the VOC protocol's ignored boxes occur in every image set. Boxes
are written 1-based (``xmin = x1 + 1``), so mmdet's VOC reading (minus one)
gives the COCO toy's boxes back.

:func:`generate_toy_voc` is idempotent and process-safe, like
:func:`~mmfsod.utils.toy_shapes.generate_toy_shapes`.
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from dataclasses import asdict
from typing import Optional

import cv2

from mmfsod.utils.generated_set import write_set_once
from mmfsod.utils.toy_shapes import CATEGORY_SETS, ToyShapesSpec, draw_toy_image

# Boxes whose longer side is below this many pixels are `difficult`.
DIFFICULT_MAX_SIDE = 24
SPEC_FILE = 'toy_voc_spec.json'
VOC_FOLDER = 'VOC2007'
IMAGE_SETS = {'train': 'trainval', 'val': 'test'}
_ID_OFFSET = {'train': 1, 'val': 100001}


def _sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = str(text)
    return node


def voc_xml(filename: str, width: int, height: int, objects) -> bytes:
    """A VOC annotation file: ``objects`` are ``dict(name, bbox=[x1, y1, x2,
    y2] (0-based pixels), difficult=0|1)``."""
    root = ET.Element('annotation')
    _sub(root, 'folder', VOC_FOLDER)
    _sub(root, 'filename', filename)
    _sub(_sub(root, 'source'), 'database', 'mmfsod toy shapes')
    size = _sub(root, 'size')
    for key, value in (('width', width), ('height', height), ('depth', 3)):
        _sub(size, key, value)
    _sub(root, 'segmented', 0)
    for obj in objects:
        node = _sub(root, 'object')
        _sub(node, 'name', obj['name'])
        _sub(node, 'pose', 'Unspecified')
        _sub(node, 'truncated', 0)
        _sub(node, 'difficult', obj['difficult'])
        box = _sub(node, 'bndbox')
        for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), obj['bbox']):
            _sub(box, key, int(value) + 1)
    ET.indent(root)
    return ET.tostring(root, encoding='utf-8') + b'\n'


def read_voc_spec(root: str) -> Optional[ToyShapesSpec]:
    """The spec of the complete toy VOC set under ``root``, or None."""
    try:
        with open(osp.join(root, SPEC_FILE)) as f:
            info = json.load(f)
        if info.pop('difficult_max_side') != DIFFICULT_MAX_SIDE:
            return None
        for name in IMAGE_SETS.values():
            if not osp.isfile(osp.join(root, VOC_FOLDER, 'ImageSets', 'Main', f'{name}.txt')):
                return None
        return ToyShapesSpec(**info)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def generate_toy_voc(out_dir: str, spec: Optional[ToyShapesSpec] = None,
                     overwrite: bool = False, **kwargs) -> str:
    """Write the toy shapes set in VOC's layout under ``out_dir``
    (idempotent: ``'exists'`` when it is there with the same arguments,
    ``'generated'`` otherwise); arguments as
    :func:`~mmfsod.utils.toy_shapes.generate_toy_shapes`."""
    if spec is None:
        unknown = set(kwargs) - set(ToyShapesSpec.__dataclass_fields__)
        if unknown:
            raise ValueError(f'toy VOC: unknown argument(s) {sorted(unknown)}; '
                             f'known: {sorted(ToyShapesSpec.__dataclass_fields__)}')
        spec = ToyShapesSpec(**kwargs)
    elif kwargs:
        raise ValueError('toy VOC: give either spec or keyword arguments')
    spec.validate()
    if spec.num_train >= _ID_OFFSET['val'] - 1:
        raise ValueError(f'toy VOC: num_train must be below {_ID_OFFSET["val"] - 1}, '
                         f'got {spec.num_train}')
    names = [c[0] for c in CATEGORY_SETS[spec.categories]]

    def write(tmp: str) -> None:
        base = osp.join(tmp, VOC_FOLDER)
        for sub in ('JPEGImages', 'Annotations', osp.join('ImageSets', 'Main')):
            os.makedirs(osp.join(base, sub))
        for split, image_set in IMAGE_SETS.items():
            ids = []
            for idx in range(spec.num_train if split == 'train' else spec.num_val):
                img, objects = draw_toy_image(spec, split, idx)
                voc_id = f'{_ID_OFFSET[split] + idx:06d}'
                ok, buf = cv2.imencode('.jpg', img[..., ::-1],
                                       [cv2.IMWRITE_JPEG_QUALITY, 95])
                if not ok:
                    raise RuntimeError(f'toy VOC: could not encode image {voc_id}')
                with open(osp.join(base, 'JPEGImages', f'{voc_id}.jpg'), 'wb') as f:
                    f.write(buf.tobytes())
                objs = [dict(name=names[o['category']], bbox=o['bbox'],
                             difficult=int(max(o['bbox'][2] - o['bbox'][0],
                                               o['bbox'][3] - o['bbox'][1])
                                           < DIFFICULT_MAX_SIDE)) for o in objects]
                with open(osp.join(base, 'Annotations', f'{voc_id}.xml'), 'wb') as f:
                    f.write(voc_xml(f'{voc_id}.jpg', img.shape[1], img.shape[0], objs))
                ids.append(voc_id)
            with open(osp.join(base, 'ImageSets', 'Main', f'{image_set}.txt'), 'w') as f:
                f.write(''.join(f'{i}\n' for i in ids))
        with open(osp.join(tmp, SPEC_FILE), 'w') as f:
            json.dump(dict(asdict(spec), difficult_max_side=DIFFICULT_MAX_SIDE), f)

    return write_set_once(out_dir, spec, read_voc_spec, write, 'toy VOC', overwrite)
