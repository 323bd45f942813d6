"""PASCAL VOC-format dataset with base/novel class splits and TFA K-shot files."""
import os.path as osp
import zlib
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmdet.datasets import VOCDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from mmfsod.utils.bad_images import SkipBadImagesMixin
from .class_splits import check_class_split, resolve_classes
from .few_shot_coco import check_few_shot_ann, few_shot_metainfo
from .few_shot_split import seed_dir
from .voc_few_shot_sampler import voc_split_file_name
from .voc_splits import VOC_CLASSES
from .voc_xml import check_class_names, parse_voc_xml, read_image_set, voc_root_of


def voc_img_id(voc_id: str) -> int:
    """An integer image id for a VOC id string: the digits of VOC's ids
    (``'000005'`` -> 5, ``'2008_000123'`` -> 2008000123), a crc32 of the id
    above 10^10 for other names."""
    digits = voc_id.replace('_', '')
    if digits.isdigit() and len(digits) <= 10:
        return int(digits)
    return 10 ** 10 + zlib.crc32(voc_id.encode())


@DATASETS.register_module()
class FewShotVOCDataset(SkipBadImagesMixin, VOCDataset):
    """A PASCAL VOC-format detection set restricted to a few-shot class split.

    Reads VOC's layout, as mmdet's ``XMLDataset``: ``<root>/ImageSets/Main/
    <set>.txt`` lists the image ids, ``<root>/Annotations/<id>.xml`` holds an
    image's size and objects, the image is ``<root>/JPEGImages/<filename>``
    (the XML's ``<filename>``, ``<id>.jpg`` without one). Boxes are mmdet's
    (``int(coordinate) - 1``). Several roots are read as one set (VOC 2007
    and 2012 trainval) by giving several image-set files.

    Labels follow the order of ``classes``. Objects of other classes of the
    split are left out (base training drops the novel boxes); an object whose
    class is not in the split at all is a ``ValueError`` naming the file.

    With ``few_shot_ann``, the images are those of TFA's K-shot files, one
    ``box_{K}shot_{class}_train.txt`` per class of ``classes`` (written by
    ``tools/data/prepare_few_shot_split.py --format voc``), read as they are
    (a line is TFA's ``datasets/VOC2007/JPEGImages/000005.jpg`` or a bare
    id); each file contributes only the boxes of its class, K of them when
    its images hold more (TFA draws these with numpy's unseeded global
    generator; here with one seeded from the seed, the shot and the class,
    so a run is reproducible). An image listed by several class files is one
    item with the boxes of each. A line repeated in a file (TFA's sampler can
    draw an image twice) is read once, so such a class may have fewer than K
    boxes (TFA trains on the repeated box twice); :attr:`num_short_classes`
    has them, and the log names them. The image is looked up in the roots of
    ``ann_file``, the one named in the line first.

    Items are the data infos of :class:`FewShotCocoDataset` (``img_id`` and
    each instance's ``ann_id`` are integers: see :func:`voc_img_id`; an
    instance's ``ann_id`` is ``img_id * 1000 +`` its index in the XML), plus
    ``voc_id`` and ``xml_path``, so :class:`QuerySupportDataset`, the keyed
    draws and the support templates work unchanged.

    Args:
        ann_file (str | Sequence[str]): image-set files, relative to
            ``data_root``; each one's root is the folder above
            ``ImageSets/Main/`` (or ``data_prefix['sub_data_root']`` for a
            single file elsewhere).
        classes (str | Sequence[str], optional): a split name
            (``'ALL_CLASSES'``, ``'BASE_CLASSES'``, ``'NOVEL_CLASSES'``,
            looked up in ``class_splits``) or class names; ``None`` is every
            class of ``METAINFO`` (VOC's 20).
        class_splits (dict, optional): e.g. ``VOC_SPLIT1``
            (:mod:`~mmfsod.detection.datasets.voc_splits`).
        few_shot_ann (dict, optional): ``dict(root=DIR, shot=K, seed=S)``:
            the K-shot files of seed S (TFA's layout: seed 0 in DIR, seed N in
            ``DIR/seedN``; a relative DIR is under ``data_root``).
        use_difficult (bool): False (the default, VOC's test protocol and
            mmdet's): a ``difficult`` box has ``ignore_flag=1``. True: it is
            ordinary ground truth, as TFA trains (base training and
            fine-tuning).
        skip_bad_images (bool): see :class:`FewShotCocoDataset`.
        **kwargs: as :class:`mmdet.datasets.VOCDataset`.
    """

    METAINFO = {'classes': VOC_CLASSES, 'palette': VOCDataset.METAINFO['palette']}

    def __init__(self,
                 *args,
                 ann_file: Union[str, Sequence[str]] = '',
                 classes: Union[None, str, Sequence[str]] = None,
                 class_splits: Optional[dict] = None,
                 few_shot_ann: Optional[dict] = None,
                 use_difficult: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        if class_splits is not None:
            class_splits = check_class_split(dict(class_splits), f'{name}.class_splits')
        self.class_splits = class_splits
        self.class_names = resolve_classes(
            self.METAINFO['classes'] if classes is None else classes, class_splits,
            f'{name}.classes')
        if class_splits is not None:
            self.known_classes = class_splits['ALL_CLASSES']
            outside = [c for c in self.class_names if c not in self.known_classes]
            if outside:
                raise ValueError(f'{name}.classes: {outside} are not in class_splits '
                                 f'{list(self.known_classes)}')
        elif set(self.class_names) <= set(self.METAINFO['classes']):
            self.known_classes = tuple(self.METAINFO['classes'])
        else:
            self.known_classes = self.class_names
        metainfo = few_shot_metainfo(name, metainfo, self.class_names, self.METAINFO,
                                     class_splits)
        self.few_shot_ann = check_few_shot_ann(name, few_shot_ann)
        if not isinstance(use_difficult, bool):
            raise TypeError(f'{name}.use_difficult must be a bool, got {use_difficult!r}')
        self.use_difficult = use_difficult
        files = [ann_file] if isinstance(ann_file, str) else list(ann_file)
        if not files or not all(isinstance(f, str) and f for f in files):
            raise ValueError(f'{name}.ann_file must be an image-set file or a list of '
                             f'them (<root>/ImageSets/Main/<set>.txt), got {ann_file!r}')
        self.image_set_files = files
        super().__init__(*args, ann_file='', metainfo=metainfo, **kwargs)
        # VOCMetric names the labels with VOC's 20 classes when dataset_type is
        # VOC2007/2012: wrong for a split's label order, so never set it here.
        self._metainfo['dataset_type'] = None

    # ------------------------------------------------------------ roots
    def voc_roots(self) -> List[Tuple[str, str]]:
        """``(root, image-set file)`` of every ``ann_file``, joined with
        ``data_root``."""
        sub_root = self.data_prefix.get('sub_data_root', '')
        out = []
        for f in self.image_set_files:
            path = f if osp.isabs(f) or not self.data_root else osp.join(self.data_root, f)
            if sub_root and len(self.image_set_files) == 1:
                out.append((sub_root, path))
            else:
                out.append((voc_root_of(path), path))
        return out

    def few_shot_files(self) -> List[str]:
        """The K-shot files read with ``few_shot_ann``, one per class."""
        cfg = self.few_shot_ann
        root = cfg['root']
        if self.data_root and not osp.isabs(root):
            root = osp.join(self.data_root, root)
        folder = seed_dir(root, int(cfg['seed']))
        return [osp.join(folder, voc_split_file_name(int(cfg['shot']), c))
                for c in self.class_names]

    def _resolve_line(self, line: str, roots: List[str], where: str) -> Tuple[str, str]:
        """``(root, voc id)`` of one K-shot file line."""
        parts = line.replace('\\', '/').split('/')
        voc_id = osp.splitext(parts[-1])[0]
        folder = parts[parts.index('JPEGImages') - 1] if 'JPEGImages' in parts[1:] else None
        ordered = ([r for r in roots if osp.basename(osp.normpath(r)) == folder]
                   + [r for r in roots if osp.basename(osp.normpath(r)) != folder])
        for root in ordered:
            if osp.isfile(osp.join(root, 'Annotations', f'{voc_id}.xml')):
                return root, voc_id
        raise ValueError(f'{where}: image {line!r} is in no VOC root of ann_file '
                         f'(no Annotations/{voc_id}.xml under {roots})')

    # ------------------------------------------------------------ reading
    def _image_list(self) -> Tuple[List[Tuple[str, str]], Optional[Dict[str, set]], str]:
        """The images to read as ``(root, voc id)``, the XML object indices
        each keeps (None: all of ``classes``) and what to name in logs."""
        roots = self.voc_roots()
        if self.few_shot_ann is None:
            images = [(root, i) for root, f in roots for i in read_image_set(f)]
            return images, None, ', '.join(f for _, f in roots)
        shot, seed = int(self.few_shot_ann['shot']), int(self.few_shot_ann['seed'])
        root_dirs = [r for r, _ in roots]
        images, keep = [], {}
        for cls, path in zip(self.class_names, self.few_shot_files()):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: K-shot file not found: {path}. Write the split '
                    'with tools/data/prepare_few_shot_split.py --format voc --voc-roots '
                    f'<roots> --seeds {seed} --shots {shot} --out <few_shot_ann.root>')
            with open(path) as f:
                lines = list(dict.fromkeys(ln.strip() for ln in f if ln.strip()))
            boxes = []  # (image key, object index) of this class, file order
            for line in lines:
                root, voc_id = self._resolve_line(line, root_dirs, path)
                key = osp.join(root, 'Annotations', f'{voc_id}.xml')
                objects = self._xml(key)['objects']
                boxes += [(key, j) for j, o in enumerate(objects) if o['name'] == cls]
                if key not in keep:
                    keep[key] = set()
                    images.append((root, voc_id))
            if len(boxes) < shot:  # TFA's sampler listed an image twice
                self.num_short_classes[cls] = len(boxes)
            if len(boxes) > shot:  # TFA keeps K boxes of the class, drawn at random
                rng = np.random.default_rng([seed, shot, zlib.crc32(cls.encode())])
                boxes = [boxes[i] for i in sorted(rng.choice(len(boxes), shot,
                                                             replace=False))]
            for key, j in boxes:
                keep[key].add(j)
        return images, keep, osp.dirname(self.few_shot_files()[0])

    def _xml(self, path: str) -> Dict:
        if path not in self._xml_cache:
            ann = parse_voc_xml(path)
            check_class_names(path, ann['objects'], self.known_classes)
            self._xml_cache[path] = ann
        return self._xml_cache[path]

    def load_data_list(self) -> List[dict]:
        """Read the image sets (or K-shot files) and XMLs; labels follow the
        order of ``classes``."""
        self.cat2label = {c: i for i, c in enumerate(self.class_names)}
        self._xml_cache: Dict[str, Dict] = {}
        # K-shot sets: class -> its boxes, when fewer than K
        self.num_short_classes: Dict[str, int] = {}
        images, keep, source = self._image_list()
        data_list, seen = [], {}
        num = difficult = 0
        for root, voc_id in images:
            xml_path = osp.join(root, 'Annotations', f'{voc_id}.xml')
            info = self._parse_image(root, voc_id, xml_path,
                                     None if keep is None else keep[xml_path])
            if info['img_id'] in seen:
                raise ValueError(f'{type(self).__name__}: {xml_path} and '
                                 f'{seen[info["img_id"]]} give the same image id '
                                 f'{info["img_id"]}; image ids must be unique across roots')
            seen[info['img_id']] = xml_path
            num += len(info['instances'])
            difficult += sum(inst['difficult'] for inst in info['instances'])
            data_list.append(info)
        del self._xml_cache
        self._source = source
        print_log(f'{type(self).__name__} ({source}): {len(data_list)} images, {num} '
                  f'instances of {len(self.class_names)} classes ({difficult} difficult, '
                  f'{"used as ground truth" if self.use_difficult else "ignored"})'
                  + (f'; classes with fewer than K={self.few_shot_ann["shot"]} boxes in the '
                     f'images their K-shot file lists (TFA\'s sampler can list an image '
                     f'twice; it is read once): {self.num_short_classes}'
                     if self.num_short_classes else ''), logger='current')
        return data_list

    def _parse_image(self, root: str, voc_id: str, xml_path: str,
                     keep: Optional[set]) -> dict:
        """One image's data info; ``keep``: the object indices to keep
        (None: every object of ``classes``)."""
        ann = self._xml(xml_path)
        img_path = osp.join(root, self.img_subdir, ann['filename'] or f'{voc_id}.jpg')
        height, width = ann['height'], ann['width']
        if not height or not width:  # no <size> (or 0, as some tools write): the image
            img = mmcv.imread(img_path) if osp.isfile(img_path) else None
            if img is None:
                raise FileNotFoundError(f'{xml_path} gives no image size and its image '
                                        f'{img_path} cannot be read')
            height, width = img.shape[:2]
        img_id = voc_img_id(voc_id)
        instances = []
        for j, obj in enumerate(ann['objects']):
            if obj['name'] not in self.cat2label or (keep is not None and j not in keep):
                continue
            x1, y1, x2, y2 = [int(v) - 1 for v in obj['bbox']]  # mmdet's VOC boxes
            instances.append(dict(
                bbox=[x1, y1, x2, y2], bbox_label=self.cat2label[obj['name']],
                ignore_flag=int(bool(obj['difficult']) and not self.use_difficult),
                difficult=obj['difficult'], ann_id=img_id * 1000 + j))
        return dict(img_path=img_path, img_id=img_id, voc_id=voc_id, xml_path=xml_path,
                    seg_map_path=None, height=height, width=width, instances=instances)
