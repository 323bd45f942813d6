"""Reading PASCAL VOC annotation files: image sets and per-image XML.

Shared by :class:`~mmfsod.detection.datasets.FewShotVOCDataset` and the VOC
K-shot sampler. The reading follows mmdet's ``XMLDataset`` (the image size
from ``<size>``, boxes from ``<bndbox>``, ``<difficult>`` absent = 0); what
mmdet would let through or fail on with a bare traceback is one
``ValueError`` naming the file: an XML that does not parse, an object
without a name or a complete box, a ``<difficult>`` flag other than 0 or 1.

Pure Python (xml.etree): no torch, no registry.
"""
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional

_BOX_KEYS = ('xmin', 'ymin', 'xmax', 'ymax')


def read_image_set(path: str) -> List[str]:
    """The image ids of a VOC image-set file (``ImageSets/Main/*.txt``):
    the first word of every non-empty line, in file order."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'VOC image-set file not found: {path}')
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def voc_root_of(image_set_file: str) -> str:
    """The VOC root of an image-set file: the folder above
    ``ImageSets/Main/`` (``VOCdevkit/VOC2007/ImageSets/Main/trainval.txt``
    -> ``VOCdevkit/VOC2007``)."""
    parts = osp.normpath(image_set_file).split(osp.sep)
    if len(parts) < 3 or parts[-3:-1] != ['ImageSets', 'Main']:
        raise ValueError(f'{image_set_file}: not under <VOC root>/ImageSets/Main/; '
                         'give image-set files in the VOC layout')
    return osp.sep.join(parts[:-3]) or '.'


def _text(node: Optional[ET.Element], key: str) -> Optional[str]:
    child = None if node is None else node.find(key)
    return None if child is None or child.text is None else child.text.strip()


def parse_voc_xml(path: str) -> Dict:
    """One VOC annotation file.

    Returns:
        dict: ``filename`` and ``folder`` (None when absent), ``width`` and
        ``height`` (None without ``<size>``), ``objects``: one
        ``dict(name, bbox=[xmin, ymin, xmax, ymax] as written (floats,
        1-based), difficult=0|1)`` per ``<object>``, in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file does not parse or an object is incomplete or
            has a ``<difficult>`` other than 0 / 1 (the message names the
            file and the object).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'VOC annotation file not found: {path}')
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f'{path}: not a valid VOC XML file ({exc})') from None
    size = root.find('size')
    width = height = None
    if size is not None:
        try:
            width, height = int(float(_text(size, 'width'))), int(float(_text(size, 'height')))
        except (TypeError, ValueError):
            raise ValueError(f'{path}: <size> needs numeric <width> and <height>') from None
    objects = []
    for i, obj in enumerate(root.findall('object')):
        name = _text(obj, 'name')
        if not name:
            raise ValueError(f'{path}: <object> {i} has no <name>')
        difficult = _text(obj, 'difficult')
        if difficult is None:
            difficult = '0'
        if difficult not in ('0', '1'):
            raise ValueError(f'{path}: <object> {i} ({name}) has <difficult>{difficult}'
                             '</difficult>; it must be 0 or 1')
        box = obj.find('bndbox')
        try:
            bbox = [float(_text(box, k)) for k in _BOX_KEYS]
        except (TypeError, ValueError):
            raise ValueError(f'{path}: <object> {i} ({name}) needs a <bndbox> with numeric '
                             f'{", ".join(_BOX_KEYS)}') from None
        objects.append(dict(name=name, bbox=bbox, difficult=int(difficult)))
    return dict(filename=_text(root, 'filename'), folder=_text(root, 'folder'),
                width=width, height=height, objects=objects)


def check_class_names(path: str, objects: List[Dict], known) -> None:
    """``ValueError`` naming ``path`` when an object's class is not in
    ``known`` (the split's or the dataset's classes)."""
    unknown = sorted({o['name'] for o in objects} - set(known))
    if unknown:
        raise ValueError(f'{path}: class names {unknown} are not in the class list '
                         f'{list(known)}; add them to the split (class_splits / '
                         '--class-order) or fix the annotation')
