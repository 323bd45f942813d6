"""The toy clutter classification set as an mmpretrain dataset."""
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.logging import print_log
from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS

from mmfsod.utils.bad_images import SkipBadImagesMixin
from mmfsod.utils.toy_clutter import (SPLITS, TOY_CLUTTER_CLASSES,
                                      generate_toy_clutter, make_spec, read_spec)


@DATASETS.register_module()
class ToyClutterDataset(SkipBadImagesMixin, CustomDataset):
    """The toy clutter set (see :mod:`mmfsod.utils.toy_clutter`): one
    labelled object per image among distractors that share its colour or its
    shape.

    Reads the ImageNet-style layout ``data_root/<split>/<class>/*.jpg`` with
    the list ``data_root/meta/<split>.txt`` (``<class>/<file> <label>``).

    Args:
        skip_bad_images (bool): replace an item whose image is missing or
            corrupt by the next one, counted and logged
            (:class:`~mmfsod.utils.bad_images.SkipBadImagesMixin`); by
            default such an image is a ``BadImageError`` naming the file
            and this dataset. Defaults to False.
        data_root (str): the set's directory.
        split (str): ``'train'``, ``'val'`` or ``'holdout'`` (images of the
            training distribution no model trains on, generated with
            ``num_holdout > 0``: for calibration); chooses the default
            ``ann_file`` (``meta/<split>.txt``) and ``data_prefix``
            (``<split>``). Defaults to ``'train'``.
        generate (dict, optional): if given, the set is generated under
            ``data_root`` on first use with these generator arguments
            (``num_train``, ``num_val``, ``num_classes``, ``img_size``,
            ``seed``, ...); an existing set made with the same arguments is
            reused, one made with other arguments is an error naming both.
            ``None`` reads what is there.
        ann_file (str, optional): overrides the split's list; ``''`` scans
            the class folders instead (same labels: the classes are in
            alphabetical order).
        data_prefix (str | dict, optional): overrides ``<split>``.
        **kwargs: as :class:`mmpretrain.datasets.CustomDataset`.

    The classes are the first ``num_classes`` of
    :data:`~mmfsod.utils.toy_clutter.TOY_CLUTTER_CLASSES`, read from
    ``generate`` or, without it, from the set's ``meta/spec.json``; an
    explicit ``metainfo=dict(classes=...)`` or ``classes=`` wins.
    """

    METAINFO = {'classes': TOY_CLUTTER_CLASSES}

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 generate: Optional[dict] = None,
                 ann_file: Optional[str] = None,
                 data_prefix=None,
                 metainfo: Optional[dict] = None,
                 classes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'{type(self).__name__}: split must be one of {SPLITS}, '
                             f'got {split!r}')
        if generate is not None and not data_root:
            raise ValueError(f'{type(self).__name__}: `generate` needs `data_root`, '
                             'the directory to write the set to')
        self.split = split
        self.generate = dict(generate) if generate is not None else None
        if ann_file is None:
            ann_file = f'meta/{split}.txt'
        if data_prefix is None:
            data_prefix = split
        if classes is None and 'classes' not in (metainfo or {}):
            metainfo = dict(metainfo or {}, classes=self._default_classes(data_root))
        super().__init__(data_root=data_root, data_prefix=data_prefix,
                         ann_file=ann_file, metainfo=metainfo, classes=classes,
                         **kwargs)

    def _default_classes(self, data_root: str) -> tuple:
        if self.generate is not None:
            return make_spec(**self.generate).classes  # ValueError if invalid
        spec = read_spec(data_root) if data_root else None
        return spec.classes if spec is not None else TOY_CLUTTER_CLASSES

    def load_data_list(self) -> List[dict]:
        if self.generate is not None:
            status = generate_toy_clutter(self.data_root, **self.generate)
            if status == 'generated':
                print_log(f'generated the toy clutter set in {self.data_root} '
                          f'({self.generate})', logger='current')
        elif self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{type(self).__name__}: {self.ann_file} does not exist; generate '
                'the set (tools/data/generate_toy_clutter.py, or `generate=dict(...)` '
                'in the dataset config)')
        data_list = super().load_data_list()
        num_classes = len(self.CLASSES)
        bad = [d for d in data_list if not 0 <= d['gt_label'] < num_classes]
        if bad:
            raise ValueError(
                f'{type(self).__name__}: {bad[0]["img_path"]} has label '
                f'{bad[0]["gt_label"]}, but the dataset has {num_classes} classes '
                f'{tuple(self.CLASSES)}')
        return data_list
