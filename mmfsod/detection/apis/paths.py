"""Where the images of a COCO json are, and which json image a file is:
the folder a json's ``file_name`` is relative to (the config's image folder
or the documented layout), and file paths matched to image ids by their
ending path components."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple


def image_dir_candidates(ann_file: str, config_dirs: Sequence[str] = ()) -> List[str]:
    """The folders that may hold the images of ``ann_file`` (its
    ``file_name`` relative to them), in the order they are tried: the
    config's image folders (``data_root + data_prefix['img']``), then the
    documented layout ``<root>/images/`` for ``<root>/annotations/x.json``,
    then ``<root>/`` (the toy sets' layout), then the json's own folder."""
    ann_dir = osp.dirname(osp.abspath(ann_file))
    out = []
    for d in [*config_dirs, osp.join(osp.dirname(ann_dir), 'images'), osp.dirname(ann_dir),
              ann_dir]:
        d = osp.normpath(osp.abspath(d))
        if d not in out:
            out.append(d)
    return out


def find_image_dir(ann_file: str, file_names: Sequence[str],
                   candidates: Sequence[str], flag: str = '--img-dir',
                   check: int = 20) -> str:
    """The first of ``candidates`` under which the first ``check`` file
    names of ``ann_file`` exist; otherwise ``FileNotFoundError`` in one line
    naming the file, the folders tried and ``flag``."""
    names = list(file_names)[:check]
    for d in candidates:
        if all(osp.isfile(osp.join(d, n)) for n in names):
            return d
    raise FileNotFoundError(
        f'{ann_file}: its images ({names[0] if names else "?"}, ...) are not under any of '
        f'{list(candidates)}; give the folder their file_name is relative to with {flag}')


def config_image_dirs(cfg) -> List[str]:
    """``data_root + data_prefix['img']`` of the config's test, val and
    train datasets (a wrapped ``dataset`` inside them too), in that order."""
    out = []
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        while isinstance(dataset, dict):
            if dataset.get('data_root') is not None or dataset.get('data_prefix'):
                prefix = (dataset.get('data_prefix') or {}).get('img', '') or ''
                d = osp.join(dataset.get('data_root') or '', prefix)
                if d and d not in out:
                    out.append(d)
            dataset = dataset.get('dataset')
    return out


def _parts(path: str) -> Tuple[str, ...]:
    """The components of a normalised path, without the root."""
    return tuple(p for p in osp.normpath(path).replace('\\', '/').split('/')
                 if p not in ('', '.'))


class CocoIds:
    """The ``image_id`` of a file and the ``category_id`` of a class name in
    a COCO json, for results in that json's own ids.

    A file is the image whose ``file_name`` (e.g. ``val/0001.jpg``) is the
    end of the file's normalised absolute path (whole path components; the
    longest such ``file_name`` wins), so no image folder is needed. A class
    is the category of that name.

    Args:
        ann_file (str): the COCO json (``images`` and ``categories`` used).
    """

    def __init__(self, ann_file: str) -> None:
        import json
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'annotation file not found: {ann_file}')
        try:
            with open(ann_file) as f:
                coco = json.load(f)
        except ValueError as exc:
            raise ValueError(f'{ann_file}: not a json file ({exc})') from exc
        for key in ('images', 'categories'):
            if not isinstance(coco, dict) or key not in coco:
                raise ValueError(f'{ann_file}: not a COCO json, no {key!r}')
        self.ann_file = ann_file
        self._images: Dict[Tuple[str, ...], int] = {}
        for im in coco['images']:
            key = _parts(im['file_name'])
            if key in self._images and self._images[key] != im['id']:
                raise ValueError(f'{ann_file}: file_name {im["file_name"]!r} is given to '
                                 f'images {self._images[key]} and {im["id"]}')
            self._images[key] = im['id']
        self._longest = max((len(k) for k in self._images), default=0)
        self.category_ids: Dict[str, int] = {}
        for cat in coco['categories']:
            self.category_ids.setdefault(cat['name'], cat['id'])

    def image_id(self, path: str) -> Optional[int]:
        """The id of the image whose ``file_name`` ends ``path``, or None."""
        parts = _parts(osp.abspath(path))
        for k in range(min(len(parts), self._longest), 0, -1):
            img_id = self._images.get(parts[-k:])
            if img_id is not None:
                return img_id
        return None

    def image_ids(self, paths: Sequence) -> List[int]:
        """:meth:`image_id` of every path; an array input or a file that is
        no image of the json is a ``ValueError`` naming it."""
        out = []
        for path in paths:
            if not isinstance(path, str):
                raise ValueError(f'{self.ann_file}: an image array has no file name to '
                                 'match to an image id; give image paths')
            img_id = self.image_id(path)
            if img_id is None:
                raise ValueError(f'{path} is no image of {self.ann_file} (an image '
                                 "matches when its file_name, e.g. 'val/0001.jpg', ends "
                                 'the path)')
            out.append(img_id)
        return out

    def class_ids(self, classes: Sequence[str]) -> List[int]:
        """The category id of each class name; a class that is no category of
        the json is a ``ValueError`` naming it."""
        missing = [c for c in classes if c not in self.category_ids]
        if missing:
            raise ValueError(f'{self.ann_file}: classes {missing} are not categories of the '
                             f'file (it has {sorted(self.category_ids)})')
        return [self.category_ids[c] for c in classes]
