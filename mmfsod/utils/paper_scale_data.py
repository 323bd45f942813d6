"""Generated stand-ins for the papers' data sets, at the papers' sizes.

Used by ``tools/analysis_tools/paper_scale_check.py`` to run the COCO and
ImageNet configs for a few iterations without COCO or ImageNet: the content
is drawn (the toy shapes' background and shapes, :mod:`mmfsod.utils.toy_shapes`),
the sizes, class tables and directory layouts are the real ones.

* :func:`generate_paper_coco` -- the layout of
  ``configs/_base_/datasets/fsod_coco.py`` (TFA's)::

      root/train2014/COCO_train2014_<id:012d>.jpg
      root/val2014/COCO_val2014_<id:012d>.jpg
      root/cocosplit/datasplit/trainvalno5k.json   (train2014 + a few val2014)
      root/cocosplit/datasplit/5k.json             (val2014)
      root/cocosplit/full_box_<K>shot_<class>_trainval.json   (seed 0)

  with COCO's 80 categories (their real ids and names; 60 base / 20 novel as
  :data:`~mmfsod.detection.datasets.class_splits.COCO_SPLIT`), images of
  640-1000 x 480-600 pixels (about 1000 x 600 after the configs' resize) and
  4-10 objects of 32 px to 45 % of the shorter side. Categories are dealt
  round-robin, so every class has about ``num_train * 7 / 80`` instances,
  each in its own image (enough for TFA's K-shot sampler).
* :func:`generate_paper_imagenet` -- mmpretrain's ImageNet layout that
  ``configs/anchornet/imagenet/**`` read::

      root/train/n<label:08d>/n<label:08d>_<i>.JPEG   root/val/ILSVRC2012_val_<i:08d>.JPEG
      root/meta/train.txt, val.txt, train_holdout.txt  "<path> <label>"

  labels spread over the 1000 classes, images 300-500 px a side.
* :func:`write_lsp_records` -- LSP patch records (the LSP hook's JSON lines,
  read by :class:`~mmfsod.classification.datasets.LSPPatchDataset`) in the
  paper's downstream setting (K = 24/10/8 patches of 63/95/111 px on the 224
  x 224 input, branches drawn with the paper's val shares), without images
  if need be (1.28 M lines for the memory measurement).

A set is written once per spec (:func:`~mmfsod.utils.generated_set.write_set_once`:
reused when the spec matches, atomic, process-safe). Pure numpy / OpenCV.
"""
import colorsys
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmfsod.utils.generated_set import SpecChecker, write_set_once
from mmfsod.utils.toy_shapes import (_background, _blend_shape, _free_square,
                                     _shape_mask, _texture)

# COCO's category ids, in the order of COCO_ALL_CLASSES (ids 12, 26, 29, 30,
# 45, 66, 68, 69, 71, 83 are unused in COCO).
COCO_CATEGORY_IDS: Tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75,
    76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90)
_SHAPES = ('circle', 'square', 'triangle', 'star', 'cross', 'diamond', 'ring', 'hexagon',
           'crescent', 'arrow', 'ellipse', 'lshape')
_TEXTURES = ('solid', 'stripes', 'dots', 'checker')
SPEC_FILE = 'paper_scale_spec.json'

# LSP's downstream setting and the paper's branch shares (section 4.3: images
# per branch among the 50k val images).
LSP_BRANCHES = (('B63', 63, 24, 15050), ('B95', 95, 10, 18047), ('B111', 111, 8, 16903))
LSP_INPUT = 224
LSP_STRIDE = 8


def _look(cat: int) -> Tuple[str, np.ndarray, str]:
    """Shape, RGB colour and texture of category index ``cat``."""
    r, g, b = colorsys.hsv_to_rgb((cat * 0.618034) % 1.0, 0.8, 0.9)
    colour = np.array([r, g, b], np.float64) * 255
    return _SHAPES[cat % len(_SHAPES)], colour, _TEXTURES[(cat // len(_SHAPES)) % 4]


def draw_scene(rng: np.random.Generator, h: int, w: int, cats: Sequence[int],
               min_obj: int, max_frac: float) -> Tuple[np.ndarray, List[dict]]:
    """A ``(h, w, 3)`` uint8 RGB image with up to ``len(cats)`` objects on
    the toy shapes' background: the placed objects take the categories
    ``cats[0], cats[1], ...`` in order (an object with no free place is left
    out, so the last categories go first). Returns the image and
    ``[dict(category, bbox=[x1, y1, x2, y2], area)]``."""
    img = _background(h, w, rng)
    objects, boxes = [], []
    lo, hi = math.log(min_obj), math.log(max(min_obj + 1, max_frac * min(h, w)))
    for _ in cats:
        cat = cats[len(objects)]
        size = int(round(math.exp(rng.uniform(lo, hi))))
        box = _free_square(rng, h, w, size, boxes)
        if box is None:
            continue
        shape, colour, texture = _look(int(cat))
        mask = _shape_mask(shape, size, rng)
        drawn = _blend_shape(img, box, mask, _texture(texture, size, colour, rng))
        if drawn is None:
            continue
        boxes.append(box)
        objects.append(dict(category=int(cat), area=drawn[1], bbox=drawn[0]))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), objects


def _write_jpg(path: str, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode('.jpg', rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError(f'paper-scale set: could not encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _read_spec(root: str, cls):
    try:
        with open(osp.join(root, SPEC_FILE)) as f:
            info = json.load(f)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in info.items()})
    except (OSError, ValueError, TypeError):
        return None


def _write_spec(root: str, spec) -> None:
    with open(osp.join(root, SPEC_FILE), 'w') as f:
        json.dump(asdict(spec), f)


# --------------------------------------------------------------------------
# COCO (TFA's few-shot layout)
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperCocoSpec:
    """Parameters of the generated few-shot COCO stand-in."""
    num_train: int = 200  # trainvalno5k.json images
    num_test: int = 4  # 5k.json images
    val2014_every: int = 10  # every n-th training image is a COCO_val2014_ one
    min_width: int = 640
    max_width: int = 1000
    min_height: int = 480
    max_height: int = 600
    min_objects: int = 4
    max_objects: int = 10
    shots: Tuple[int, ...] = (1, 2, 3, 5, 10)  # K-shot files of seed 0
    seed: int = 0
    version: int = 1

    def validate(self) -> None:
        need = SpecChecker(self, 'paper-scale COCO', ints=(
            'num_train', 'num_test', 'val2014_every', 'min_width', 'max_width',
            'min_height', 'max_height', 'min_objects', 'max_objects', 'seed')).need
        need(self.num_train >= 1 and self.num_test >= 1,
             'num_train and num_test must be >= 1')
        need(64 <= self.min_width <= self.max_width and 64 <= self.min_height <= self.max_height,
             'need 64 <= min_width <= max_width and 64 <= min_height <= max_height')
        need(1 <= self.min_objects <= self.max_objects <= 80,
             'need 1 <= min_objects <= max_objects <= 80')
        need(len(self.shots) > 0 and all(isinstance(k, int) and k >= 1 for k in self.shots),
             f'shots must be ints >= 1, got {self.shots!r}')


def _coco_split(spec: PaperCocoSpec, root: str, split: str, first_id: int,
                num: int) -> dict:
    from mmfsod.detection.datasets.class_splits import COCO_ALL_CLASSES
    images, annotations = [], []
    counter = 0  # categories dealt round-robin: classes balanced, once per image
    for i in range(num):
        rng = np.random.default_rng([spec.seed, 0 if split == 'train' else 1, i, spec.version])
        h = int(rng.integers(spec.min_height, spec.max_height + 1))
        w = int(rng.integers(spec.min_width, spec.max_width + 1))
        n = int(rng.integers(spec.min_objects, spec.max_objects + 1))
        cats = [(counter + j) % 80 for j in range(n)]
        counter += n
        img, objects = draw_scene(rng, h, w, cats, 32, 0.45)
        counter += len(objects) - n  # categories of objects left out come next
        image_id = first_id + i
        val = split == 'test' or (i % spec.val2014_every == spec.val2014_every - 1)
        folder = 'val2014' if val else 'train2014'
        prefix = f'COCO_{folder}_'
        file_name = f'{prefix}{image_id:012d}.jpg'
        _write_jpg(osp.join(root, folder, file_name), img)
        images.append(dict(id=image_id, file_name=file_name, height=h, width=w))
        for obj in objects:
            x1, y1, x2, y2 = obj['bbox']
            annotations.append(dict(
                id=len(annotations) + 1 + (0 if split == 'train' else 10 ** 6),
                image_id=image_id,
                category_id=COCO_CATEGORY_IDS[obj['category']],
                bbox=[x1, y1, x2 - x1, y2 - y1], area=obj['area'], iscrowd=0))
    categories = [dict(id=i, name=n, supercategory='generated')
                  for i, n in zip(COCO_CATEGORY_IDS, COCO_ALL_CLASSES)]
    return dict(info=dict(description=f'mmfsod paper-scale COCO stand-in ({split})'),
                licenses=[], images=images, annotations=annotations, categories=categories)


def generate_paper_coco(out_dir: str, spec: Optional[PaperCocoSpec] = None,
                        overwrite: bool = False, **kwargs) -> str:
    """Write the few-shot COCO stand-in under ``out_dir`` (once per spec).

    Returns ``'exists'`` or ``'generated'``; see the module docstring for
    the layout."""
    from mmfsod.detection.datasets.few_shot_split import write_few_shot_splits
    spec = spec if spec is not None else PaperCocoSpec(**kwargs)
    spec.validate()

    def write(tmp: str) -> None:
        for sub in ('train2014', 'val2014', 'cocosplit/datasplit'):
            os.makedirs(osp.join(tmp, sub))
        train = _coco_split(spec, tmp, 'train', 1, spec.num_train)
        test = _coco_split(spec, tmp, 'test', 1 + spec.num_train, spec.num_test)
        for name, coco in (('trainvalno5k', train), ('5k', test)):
            with open(osp.join(tmp, 'cocosplit', 'datasplit', name + '.json'), 'w') as f:
                json.dump(coco, f)
        write_few_shot_splits(train, osp.join(tmp, 'cocosplit'), [0], spec.shots)
        _write_spec(tmp, spec)

    return write_set_once(out_dir, spec, lambda d: _read_spec(d, PaperCocoSpec), write,
                          'paper-scale COCO', overwrite)


# --------------------------------------------------------------------------
# ImageNet (mmpretrain's layout)
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperImageNetSpec:
    """Parameters of the generated ImageNet-1k stand-in."""
    num_train: int = 64
    num_val: int = 64
    num_holdout: int = 8  # lines of meta/train_holdout.txt (training images)
    min_size: int = 300
    max_size: int = 500
    num_classes: int = 1000
    seed: int = 0
    version: int = 1

    def validate(self) -> None:
        need = SpecChecker(self, 'paper-scale ImageNet', ints=(
            'num_train', 'num_val', 'num_holdout', 'min_size', 'max_size', 'num_classes',
            'seed')).need
        need(self.num_train >= 1 and self.num_val >= 1, 'num_train and num_val must be >= 1')
        need(0 <= self.num_holdout <= self.num_train, 'need 0 <= num_holdout <= num_train')
        need(LSP_INPUT // 2 <= self.min_size <= self.max_size,
             f'need {LSP_INPUT // 2} <= min_size <= max_size')


def imagenet_label(spec: PaperImageNetSpec, i: int) -> int:
    """Label of image ``i``: spread over all classes (389 is prime to 1000)."""
    return (i * 389) % spec.num_classes


def generate_paper_imagenet(out_dir: str, spec: Optional[PaperImageNetSpec] = None,
                            overwrite: bool = False, **kwargs) -> str:
    """Write the ImageNet stand-in under ``out_dir`` (once per spec)."""
    spec = spec if spec is not None else PaperImageNetSpec(**kwargs)
    spec.validate()

    def write(tmp: str) -> None:
        os.makedirs(osp.join(tmp, 'meta'))
        os.makedirs(osp.join(tmp, 'val'))
        lines = dict(train=[], val=[])
        for split, num in (('train', spec.num_train), ('val', spec.num_val)):
            for i in range(num):
                rng = np.random.default_rng([spec.seed, split == 'val', i, spec.version])
                h, w = (int(v) for v in rng.integers(spec.min_size, spec.max_size + 1, 2))
                label = imagenet_label(spec, i + (spec.num_train if split == 'val' else 0))
                cats = [label % 80] + [int(c) for c in rng.integers(0, 80, 2)]
                img, _ = draw_scene(rng, h, w, cats, 40, 0.5)
                if split == 'train':
                    wnid = f'n{label:08d}'
                    os.makedirs(osp.join(tmp, 'train', wnid), exist_ok=True)
                    rel = f'{wnid}/{wnid}_{i}.JPEG'
                else:
                    rel = f'ILSVRC2012_val_{i + 1:08d}.JPEG'
                _write_jpg(osp.join(tmp, split, rel), img)
                lines[split].append(f'{rel} {label}')
        lines['train_holdout'] = lines['train'][:spec.num_holdout]
        for name, rows in lines.items():
            with open(osp.join(tmp, 'meta', name + '.txt'), 'w') as f:
                f.write(''.join(r + '\n' for r in rows))
        _write_spec(tmp, spec)

    return write_set_once(out_dir, spec, lambda d: _read_spec(d, PaperImageNetSpec), write,
                          'paper-scale ImageNet', overwrite)


# --------------------------------------------------------------------------
# LSP patch records
# --------------------------------------------------------------------------
def lsp_record(img_path: str, label: int, index: int, rng: np.random.Generator) -> dict:
    """One LSP patch record as the LSP hook writes it (downstream setting,
    no branch scores): a branch drawn with the paper's shares and its K
    distinct stride-8 patches on the 224 x 224 input."""
    shares = np.array([b[3] for b in LSP_BRANCHES], np.float64)
    name, rf, k, _ = LSP_BRANCHES[int(rng.choice(3, p=shares / shares.sum()))]
    side = (LSP_INPUT - rf) // LSP_STRIDE + 1
    locs = rng.choice(side * side, k, replace=False)
    acts = np.sort(rng.random(k))[::-1]
    patches = []
    for loc, act in zip(locs.tolist(), acts.tolist()):
        y, x = divmod(loc, side)
        box = [x * LSP_STRIDE, y * LSP_STRIDE, x * LSP_STRIDE + rf, y * LSP_STRIDE + rf]
        patches.append(dict(box=box, ori_box=[float(v) for v in box],
                            activation=round(act, 6)))
    return dict(img_path=img_path, sample_idx=index, input_size=[LSP_INPUT, LSP_INPUT],
                ori_shape=[LSP_INPUT, LSP_INPUT], gt_label=int(label), pred_label=int(label),
                branch=name, setting=dict(k_max=k, iou_thr=0.8, coverage=0.3),
                patches=patches)


def write_lsp_records(path: str, images: Iterable[Tuple[str, int]], seed: int = 0) -> int:
    """Write one LSP patch record per ``(img_path, label)`` to ``path``
    (JSON lines); returns the number of patches written."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    total = 0
    with open(path, 'w', encoding='utf-8') as f:
        for i, (img_path, label) in enumerate(images):
            record = lsp_record(img_path, label, i, rng)
            total += len(record['patches'])
            f.write(json.dumps(record, separators=(',', ':')) + '\n')
    return total
