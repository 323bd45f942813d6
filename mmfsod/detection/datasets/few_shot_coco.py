"""COCO-format dataset with base/novel class splits and TFA K-shot files."""
import colorsys
import copy
import glob
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Union

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from mmfsod.utils.bad_images import SkipBadImagesMixin
from .class_splits import COCO_ALL_CLASSES, check_class_split, resolve_classes
from .few_shot_split import load_coco_json, seed_dir, split_file_name

_COCO_PALETTE = dict(zip(CocoDataset.METAINFO['classes'], CocoDataset.METAINFO['palette']))


def _palette(classes: Sequence[str]) -> List[tuple]:
    """COCO's colour for COCO names, evenly spread hues for the others."""
    out = []
    for i, name in enumerate(classes):
        if name in _COCO_PALETTE:
            out.append(tuple(_COCO_PALETTE[name]))
        else:
            r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.85, 0.9)
            out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out


def few_shot_metainfo(name: str, metainfo: Optional[dict], class_names: Sequence[str],
                      default_metainfo: dict, class_splits: Optional[dict]) -> dict:
    """The dataset's metainfo: its classes (given as ``classes=``, never in
    ``metainfo``), a palette (the dataset's own colours for its own names,
    :func:`_palette` for the others) and its class splits."""
    metainfo = dict(metainfo or {})
    if 'classes' in metainfo:
        raise ValueError(f'{name}: give the classes as `classes=` (a split name '
                         'or names), not in `metainfo`')
    metainfo['classes'] = class_names
    known = dict(zip(default_metainfo['classes'], default_metainfo.get('palette', ())))
    fallback = _palette(class_names)
    metainfo.setdefault('palette', [tuple(known.get(c, fallback[i]))
                                    for i, c in enumerate(class_names)])
    if class_splits is not None:
        metainfo.setdefault('class_splits', class_splits)
    return metainfo


def check_few_shot_ann(name: str, few_shot_ann: Optional[dict]) -> Optional[dict]:
    """``few_shot_ann=dict(root=DIR, shot=K, seed=S)`` checked (seed 0 by
    default), or None."""
    if few_shot_ann is None:
        return None
    few_shot_ann = dict(few_shot_ann)
    unknown = sorted(set(few_shot_ann) - {'root', 'shot', 'seed'})
    if unknown or 'root' not in few_shot_ann or 'shot' not in few_shot_ann:
        raise ValueError(f'{name}.few_shot_ann must be dict(root=DIR, shot=K, '
                         f'seed=S), got {few_shot_ann}')
    few_shot_ann.setdefault('seed', 0)
    return few_shot_ann


def missing_kshot_file_message(path: str, class_name: str, shot: int, seed: int,
                               where: str) -> str:
    """What to say when the K-shot file ``path`` of ``class_name`` is not
    there: the class is not a category of the json the folder's other K-shot
    files were written from (name it, list the json's classes), or the split
    of this shot / seed was not written (the command that writes it)."""
    folder = osp.dirname(path)
    others = sorted(glob.glob(osp.join(folder, split_file_name('*', '*'))))
    if others:
        try:
            names = [c['name'] for c in load_coco_json(others[0]).get('categories', [])]
        except (OSError, ValueError, KeyError, TypeError):
            names = None
        if names is not None and class_name not in names:
            return (f'{where}: class {class_name!r} is not a category of the json the '
                    f'K-shot files in {folder} were written from (e.g. {others[0]}; its '
                    f'classes: {names}): fix the class name in the config (base_classes / '
                    'novel_classes, class_splits) or in the json and write the split again')
    return (f'{where}: K-shot file not found: {path}. Write the split with '
            'tools/data/prepare_few_shot_split.py --ann <train json> '
            f'--seeds {seed} --shots {shot} --out <few_shot_ann.root>')


@DATASETS.register_module()
class FewShotCocoDataset(SkipBadImagesMixin, CocoDataset):
    """A COCO-format detection set restricted to a few-shot class split.

    Labels follow the order of ``classes`` (not the order of the categories in
    the annotation file, as mmdet's ``CocoDataset`` does), so a split name
    always means the same label indices; use
    :class:`~mmfsod.detection.evaluation.FewShotCocoMetric`, which maps labels
    back to category ids by name.

    Annotations are read either from ``ann_file`` (a whole COCO json) or, with
    ``few_shot_ann``, from TFA's K-shot files: one
    ``full_box_{K}shot_{class}_trainval.json`` per class of ``classes``
    (written by ``tools/data/prepare_few_shot_split.py``), merged per image.

    While loading, crowd boxes, boxes of zero area (or outside the image) and
    boxes smaller than ``min_bbox_area`` are dropped and counted; the counts
    are logged and kept in :attr:`drop_counts`. In training mode with
    ``filter_cfg=dict(filter_empty_gt=True)``, images left with no instance of
    ``classes`` are skipped and counted too.

    Args:
        skip_bad_images (bool): replace an item whose image is missing or
            corrupt by the next one, counted and logged
            (:class:`~mmfsod.utils.bad_images.SkipBadImagesMixin`); by
            default such an image is a ``BadImageError`` naming the file
            and this dataset. Defaults to False.
        classes (str | Sequence[str], optional): ``'ALL_CLASSES'``,
            ``'BASE_CLASSES'``, ``'NOVEL_CLASSES'`` (looked up in
            ``class_splits``) or the class names themselves. ``None`` (the
            default) is every class of ``METAINFO`` (COCO's 80 here).
        class_splits (dict, optional): the split table, see
            :mod:`~mmfsod.detection.datasets.class_splits`; ``None`` is COCO's
            60 base / 20 novel split.
        few_shot_ann (dict, optional): ``dict(root=DIR, shot=K, seed=S)``:
            read the K-shot files of seed ``S`` under ``DIR`` (TFA's layout:
            seed 0 in ``DIR`` itself, seed N in ``DIR/seedN``; a relative
            ``DIR`` is under ``data_root``) instead of ``ann_file``.
        min_bbox_area (float): drop boxes whose ``w * h`` is below this.
        img_subdirs (dict, optional): file-name prefix -> sub-directory of
            ``data_prefix['img']``, for annotation files that mix images of
            several folders (TFA's COCO2014 files: ``COCO_train2014_`` ->
            ``train2014/``, ``COCO_val2014_`` -> ``val2014/``).
        **kwargs: as :class:`mmdet.datasets.CocoDataset`; ``metainfo`` may
            not set ``classes`` (use ``classes``).
    """

    METAINFO = {'classes': COCO_ALL_CLASSES, 'palette': _palette(COCO_ALL_CLASSES)}

    def __init__(self,
                 *args,
                 classes: Union[None, str, Sequence[str]] = None,
                 class_splits: Optional[dict] = None,
                 few_shot_ann: Optional[dict] = None,
                 min_bbox_area: float = 0.0,
                 img_subdirs: Optional[Dict[str, str]] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        if class_splits is not None:
            class_splits = check_class_split(dict(class_splits), f'{name}.class_splits')
        self.class_splits = class_splits
        self.class_names = resolve_classes(
            self.METAINFO['classes'] if classes is None else classes, class_splits,
            f'{name}.classes')
        metainfo = few_shot_metainfo(name, metainfo, self.class_names, self.METAINFO,
                                     class_splits)
        self.few_shot_ann = check_few_shot_ann(name, few_shot_ann)
        if min_bbox_area < 0:
            raise ValueError(f'{name}.min_bbox_area must be >= 0, got {min_bbox_area}')
        self.min_bbox_area = float(min_bbox_area)
        self.img_subdirs = dict(img_subdirs or {})
        self.drop_counts: Counter = Counter()
        super().__init__(*args, metainfo=metainfo, **kwargs)

    # ------------------------------------------------------------ annotations
    def few_shot_files(self) -> List[str]:
        """The K-shot files read with ``few_shot_ann``, one per class."""
        cfg = self.few_shot_ann
        root = cfg['root']
        if self.data_root and not osp.isabs(root):
            root = osp.join(self.data_root, root)
        folder = seed_dir(root, int(cfg['seed']))
        return [osp.join(folder, split_file_name(int(cfg['shot']), c))
                for c in self.class_names]

    def _load_coco(self) -> COCO:
        if self.few_shot_ann is None:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(
                    f'{type(self).__name__}: annotation file not found: {self.ann_file}')
            dataset = load_coco_json(self.ann_file)
            self._source = self.ann_file
        else:
            dataset = self._merge_few_shot_files(self.few_shot_files())
            self._source = osp.dirname(self.few_shot_files()[0])
        for key in ('images', 'annotations', 'categories'):
            if key not in dataset:
                raise ValueError(f'{self._source}: not a COCO json, no {key!r}')
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        return coco

    def _merge_few_shot_files(self, files: List[str]) -> dict:
        """One COCO dict from TFA's per-class files: images merged by id,
        annotations by id."""
        images, anns, categories = {}, {}, None
        for path, class_name in zip(files, self.class_names):
            if not osp.isfile(path):
                cfg = self.few_shot_ann
                raise FileNotFoundError(missing_kshot_file_message(
                    path, class_name, cfg['shot'], cfg['seed'], type(self).__name__))
            part = load_coco_json(path)
            for key in ('images', 'annotations', 'categories'):
                if key not in part:
                    raise ValueError(f'{path}: not a TFA split file, no {key!r}')
            categories = categories or part['categories']
            for img in part['images']:
                if img['id'] in images and images[img['id']] != img:
                    raise ValueError(f'{path}: image id {img["id"]} differs from the '
                                     'same id in another K-shot file')
                images[img['id']] = img
            for ann in part['annotations']:
                anns[ann['id']] = ann
        return dict(images=list(images.values()), annotations=list(anns.values()),
                    categories=categories)

    def load_data_list(self) -> List[dict]:
        """Read the annotations; labels follow the order of ``classes``."""
        self.coco = self._load_coco()
        name_to_id = {}
        for cat in self.coco.dataset['categories']:
            name_to_id.setdefault(cat['name'], cat['id'])
        missing = [c for c in self.class_names if c not in name_to_id]
        if missing:
            raise ValueError(f'{type(self).__name__}: classes {missing} are not '
                             f'categories of {self._source} (it has '
                             f'{sorted(name_to_id)})')
        self.cat_ids = [name_to_id[c] for c in self.class_names]
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.cat_img_map = copy.deepcopy(self.coco.cat_img_map)
        self.drop_counts = Counter()

        data_list, ann_ids = [], []
        for img_id in self.coco.get_img_ids():
            raw_img_info = dict(self.coco.load_imgs([img_id])[0], img_id=img_id)
            ids = self.coco.get_ann_ids(img_ids=[img_id])
            ann_ids.extend(ids)
            data_list.append(self.parse_data_info(dict(
                raw_img_info=raw_img_info, raw_ann_info=self.coco.load_anns(ids))))
        if len(set(ann_ids)) != len(ann_ids):
            raise ValueError(f'{self._source}: annotation ids are not unique')
        del self.coco
        num = sum(len(d['instances']) for d in data_list)
        drops = ', '.join(f'{v} {k}' for k, v in sorted(self.drop_counts.items())) or 'none'
        print_log(f'{type(self).__name__} ({self._source}): {len(data_list)} images, '
                  f'{num} instances of {len(self.class_names)} classes; dropped boxes: '
                  f'{drops}', logger='current')
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """One image: path, size and its instances of ``classes`` (each with
        ``bbox`` x1y1x2y2, ``bbox_label``, ``ignore_flag`` 0, ``ann_id``)."""
        img_info = raw_data_info['raw_img_info']
        file_name = img_info['file_name']
        subdir = next((d for p, d in self.img_subdirs.items()
                       if osp.basename(file_name).startswith(p)), '')
        data_info = dict(
            img_path=osp.join(self.data_prefix.get('img', self.data_prefix.get(
                'img_path', '')), subdir, file_name),
            img_id=img_info['img_id'], seg_map_path=None,
            height=img_info['height'], width=img_info['width'])
        instances = []
        for ann in raw_data_info['raw_ann_info']:
            if ann['category_id'] not in self.cat2label or ann.get('ignore', False):
                continue
            if ann.get('iscrowd', 0):
                self.drop_counts['crowd'] += 1
                continue
            x1, y1, w, h = ann['bbox']
            inter_w = max(0, min(x1 + w, img_info['width']) - max(x1, 0))
            inter_h = max(0, min(y1 + h, img_info['height']) - max(y1, 0))
            if inter_w * inter_h <= 0 or w < 1 or h < 1 or ann.get('area', 1) <= 0:
                self.drop_counts['zero-area'] += 1
                continue
            if w * h < self.min_bbox_area:
                self.drop_counts[f'below min_bbox_area={self.min_bbox_area:g}'] += 1
                continue
            instances.append(dict(bbox=[x1, y1, x1 + w, y1 + h],
                                  bbox_label=self.cat2label[ann['category_id']],
                                  ignore_flag=0, ann_id=ann['id']))
        data_info['instances'] = instances
        return data_info

    def filter_data(self) -> List[dict]:
        """Training mode: skip (and count) images without an instance of
        ``classes`` when ``filter_empty_gt`` and images smaller than
        ``min_size``. Test mode keeps every image."""
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        filter_empty = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept, empty, small = [], 0, 0
        for info in self.data_list:
            if filter_empty and not info['instances']:
                empty += 1
            elif min(info['width'], info['height']) < min_size:
                small += 1
            else:
                kept.append(info)
        self.skip_counts = dict(no_instance=empty, too_small=small)
        if empty or small:
            print_log(f'{type(self).__name__} ({self._source}): skipped {empty} images '
                      f'without an instance of the {len(self.class_names)} classes and '
                      f'{small} smaller than {min_size} px; {len(kept)} left',
                      logger='current')
        return kept
