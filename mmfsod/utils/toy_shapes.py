"""Deterministic generator of the *toy shapes* detection set (COCO format).

The toy set is the project's embedded default data: it is small enough to
train on a 2-core CPU in minutes, and its categories are genuinely different
in shape, colour and texture, so that a few-shot split of it (some categories
base, some novel) is a meaningful benchmark.

Every image is a cluttered background (smooth colour field, noise, thin lines
and grey blobs that belong to no category) with several objects at several
scales. Image ``i`` of a split depends only on ``(seed, split, i)``, so the
same arguments give byte-identical images and json files, and a larger
``num_train`` extends a smaller one.

Pure numpy / OpenCV: no registry, no torch. :func:`generate_toy_shapes` is the
entry point; ``tools/data/generate_toy_shapes.py`` is its command line, and
:class:`mmfsod.detection.datasets.ToyShapesDataset` calls it on first use.
"""
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from mmfsod.utils.generated_set import SpecChecker, write_set_once

# The category table is data: (name, shape, RGB colour, texture).
# Shapes differ in outline, colours in hue, textures in pattern.
TOY_SHAPES_CATEGORIES: Tuple[Tuple[str, str, Tuple[int, int, int], str], ...] = (
    ('red_circle', 'circle', (220, 30, 30), 'solid'),
    ('green_square', 'square', (30, 170, 40), 'stripes'),
    ('blue_triangle', 'triangle', (30, 60, 220), 'solid'),
    ('yellow_star', 'star', (235, 210, 20), 'dots'),
    ('magenta_cross', 'cross', (210, 30, 200), 'solid'),
    ('cyan_diamond', 'diamond', (20, 200, 210), 'checker'),
    ('orange_ring', 'ring', (245, 130, 20), 'solid'),
    ('white_hexagon', 'hexagon', (245, 245, 245), 'stripes'),
    ('purple_crescent', 'crescent', (120, 40, 180), 'solid'),
    ('lime_arrow', 'arrow', (150, 230, 40), 'solid'),
    ('pink_ellipse', 'ellipse', (250, 140, 180), 'checker'),
    ('navy_lshape', 'lshape', (20, 30, 120), 'dots'),
)
TOY_SHAPES_CLASSES: Tuple[str, ...] = tuple(c[0] for c in TOY_SHAPES_CATEGORIES)

# A variant with many classes (issue 13, item 5): every combination of the 12
# shapes and 6 colours, each with one of the 4 textures, 72 categories
# named colour_shape. Novel (held out): the 12 combinations with
# (shape index + colour index) % 6 == 0, one per shape and two per colour, so
# that every shape, colour and texture of a novel class is seen in base
# classes, never the combination: matching a support must combine them.
_COMBO_SHAPES = ('circle', 'square', 'triangle', 'star', 'cross', 'diamond', 'ring',
                 'hexagon', 'crescent', 'arrow', 'ellipse', 'lshape')
_COMBO_COLOURS = (('red', (220, 30, 30)), ('green', (30, 170, 40)), ('blue', (30, 60, 220)),
                  ('yellow', (235, 210, 20)), ('magenta', (210, 30, 200)),
                  ('cyan', (20, 200, 210)))
_COMBO_TEXTURES = ('solid', 'stripes', 'dots', 'checker')
TOY_SHAPE_COMBOS_CATEGORIES: Tuple[Tuple[str, str, Tuple[int, int, int], str], ...] = tuple(
    (f'{colour}_{shape}', shape, rgb, _COMBO_TEXTURES[(si + 2 * ci) % 4])
    for si, shape in enumerate(_COMBO_SHAPES)
    for ci, (colour, rgb) in enumerate(_COMBO_COLOURS))
TOY_SHAPE_COMBOS_NOVEL: Tuple[str, ...] = tuple(
    f'{colour}_{shape}' for si, shape in enumerate(_COMBO_SHAPES)
    for ci, (colour, _) in enumerate(_COMBO_COLOURS) if (si + ci) % 6 == 0)

# The category tables ToyShapesSpec.categories names.
CATEGORY_SETS = {'shapes12': TOY_SHAPES_CATEGORIES, 'combos72': TOY_SHAPE_COMBOS_CATEGORIES}

SPLITS = ('train', 'val')
_SPLIT_IDS = {'train': 0, 'val': 1}
# Smallest object side in pixels: below this shapes stop being recognisable.
MIN_OBJECT_SIZE = 12


@dataclass(frozen=True)
class ToyShapesSpec:
    """All parameters of a toy shapes set; recorded in the json ``info``."""
    num_train: int = 300
    num_val: int = 60
    min_size: int = 160
    max_size: int = 288
    min_objects: int = 2
    max_objects: int = 5
    min_scale: float = 0.12
    max_scale: float = 0.40
    seed: int = 0
    version: int = 1  # bump when the drawing code changes the output
    categories: str = 'shapes12'  # a key of CATEGORY_SETS

    def validate(self) -> None:
        """Raise ``ValueError`` naming the argument that is out of range."""
        need = SpecChecker(
            self, 'toy shapes',
            ints=('num_train', 'num_val', 'min_size', 'max_size', 'min_objects',
                  'max_objects', 'seed', 'version'),
            reals=('min_scale', 'max_scale')).need
        need(self.categories in CATEGORY_SETS, f'categories must be one of '
             f'{sorted(CATEGORY_SETS)}, got {self.categories!r}')
        need(self.num_train >= 1, f'num_train must be >= 1, got {self.num_train}')
        need(self.num_val >= 1, f'num_val must be >= 1, got {self.num_val}')
        need(self.seed >= 0, f'seed must be >= 0, got {self.seed}')
        need(64 <= self.min_size <= self.max_size <= 2048,
             f'need 64 <= min_size <= max_size <= 2048, got min_size='
             f'{self.min_size}, max_size={self.max_size}')
        need(1 <= self.min_objects <= self.max_objects <= 20,
             f'need 1 <= min_objects <= max_objects <= 20, got min_objects='
             f'{self.min_objects}, max_objects={self.max_objects}')
        need(0 < self.min_scale <= self.max_scale <= 0.6,
             f'need 0 < min_scale <= max_scale <= 0.6, got min_scale='
             f'{self.min_scale}, max_scale={self.max_scale}')
        need(self.min_scale * self.min_size >= MIN_OBJECT_SIZE,
             f'min_scale * min_size = {self.min_scale * self.min_size:.1f} px is '
             f'below the smallest recognisable object ({MIN_OBJECT_SIZE} px)')


# --------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------
def _polygon(shape: str, rng: np.random.Generator) -> Optional[np.ndarray]:
    """Outline of ``shape`` in unit coordinates (roughly [-1, 1]^2), or
    ``None`` for shapes drawn from circles/ellipses."""
    if shape == 'square':
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * 0.85
    if shape == 'triangle':
        return np.array([[0, -1], [1, 0.8], [-1, 0.8]], np.float64)
    if shape == 'diamond':
        return np.array([[0, -1], [0.7, 0], [0, 1], [-0.7, 0]], np.float64)
    if shape == 'hexagon':
        a = np.arange(6) * np.pi / 3
        return np.stack([np.cos(a), np.sin(a)], 1)
    if shape == 'star':
        a = np.arange(10) * np.pi / 5 - np.pi / 2
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        return np.stack([r * np.cos(a), r * np.sin(a)], 1)
    if shape == 'cross':
        t = 0.33
        return np.array([[-t, -1], [t, -1], [t, -t], [1, -t], [1, t], [t, t], [t, 1],
                         [-t, 1], [-t, t], [-1, t], [-1, -t], [-t, -t]], np.float64)
    if shape == 'arrow':
        return np.array([[-1, -0.3], [0.1, -0.3], [0.1, -0.8], [1, 0], [0.1, 0.8],
                         [0.1, 0.3], [-1, 0.3]], np.float64)
    if shape == 'lshape':
        return np.array([[-0.8, -1], [-0.2, -1], [-0.2, 0.4], [0.8, 0.4], [0.8, 1],
                         [-0.8, 1]], np.float64)
    return None


def _shape_mask(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size)`` uint8 mask (255 inside) of ``shape``, randomly rotated
    (where rotation changes anything)."""
    mask = np.zeros((size, size), np.uint8)
    c = (size - 1) / 2.0
    r = (size - 1) / 2.0
    if shape == 'circle':
        cv2.circle(mask, (int(round(c)), int(round(c))), int(r), 255, -1, cv2.LINE_AA)
    elif shape == 'ring':
        cv2.circle(mask, (int(round(c)), int(round(c))), int(r), 255, -1, cv2.LINE_AA)
        cv2.circle(mask, (int(round(c)), int(round(c))), int(r * 0.55), 0, -1,
                   cv2.LINE_AA)
    elif shape == 'ellipse':
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(mask, (int(round(c)), int(round(c))), (int(r), int(r * 0.45)),
                    angle, 0, 360, 255, -1, cv2.LINE_AA)
    elif shape == 'crescent':
        cv2.circle(mask, (int(round(c)), int(round(c))), int(r), 255, -1, cv2.LINE_AA)
        a = rng.uniform(0, 2 * np.pi)
        off = r * 0.45
        cv2.circle(mask, (int(round(c + off * np.cos(a))), int(round(c + off * np.sin(a)))),
                   int(r * 0.85), 0, -1, cv2.LINE_AA)
    else:
        poly = _polygon(shape, rng)
        if poly is None:
            raise KeyError(f'toy shapes: unknown shape {shape!r}')
        a = rng.uniform(-np.pi / 6, np.pi / 6)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        pts = poly @ rot.T
        pts = pts / np.abs(pts).max()  # keep inside the canvas after rotation
        pts = (pts * r + c).round().astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA)
    return mask


def _texture(kind: str, size: int, colour: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size, 3)`` float RGB fill of ``colour`` with a pattern."""
    yy, xx = np.mgrid[0:size, 0:size]
    period = max(4, size // int(rng.integers(4, 7)))
    if kind == 'solid':
        pattern = np.ones((size, size))
    elif kind == 'stripes':
        pattern = np.where(((xx + yy) // max(2, period // 2)) % 2 == 0, 1.0, 0.45)
    elif kind == 'checker':
        pattern = np.where(((xx // period) + (yy // period)) % 2 == 0, 1.0, 0.4)
    elif kind == 'dots':
        d = ((xx % period) - period / 2) ** 2 + ((yy % period) - period / 2) ** 2
        pattern = np.where(d < (period / 4) ** 2, 0.35, 1.0)
    else:
        raise KeyError(f'toy shapes: unknown texture {kind!r}')
    shade = rng.uniform(0.85, 1.1)
    return np.clip(pattern[..., None] * colour[None, None] * shade, 0, 255)


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Cluttered, category-free background: a smooth low-saturation colour
    field, pixel noise, thin lines and grey blobs. ``(h, w, 3)`` float RGB."""
    low = rng.uniform(60, 190, size=(4, 4, 3))
    low = low.mean(axis=2, keepdims=True) * 0.7 + low * 0.3  # desaturate
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    img = img + rng.normal(0, 10, size=(h, w, 3))
    for _ in range(int(rng.integers(4, 10))):  # thin lines
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p2 = tuple(int(v) for v in rng.integers(0, [w, h]))
        g = float(rng.uniform(40, 220))
        cv2.line(img, p1, p2, (g, g, g), int(rng.integers(1, 3)), cv2.LINE_AA)
    for _ in range(int(rng.integers(3, 8))):  # grey blobs
        centre = tuple(int(v) for v in rng.integers(0, [w, h]))
        axes = tuple(int(v) for v in rng.integers(3, max(4, min(h, w) // 10), size=2))
        g = float(rng.uniform(50, 200))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, (g, g, g), -1)
    return img


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _free_square(rng: np.random.Generator, h: int, w: int, size: int,
                 boxes: List[np.ndarray], tries: int = 20) -> Optional[np.ndarray]:
    """A ``size`` x ``size`` box ``[x1, y1, x2, y2]`` inside an ``h`` x ``w``
    image overlapping every box of ``boxes`` with IoU < 0.05, drawn
    uniformly up to ``tries`` times; None when no try found one."""
    for _try in range(tries):
        x0 = int(rng.integers(0, w - size + 1))
        y0 = int(rng.integers(0, h - size + 1))
        box = np.array([x0, y0, x0 + size, y0 + size], np.float64)
        if all(_iou(box, b) < 0.05 for b in boxes):
            return box
    return None


def _blend_shape(img: np.ndarray, box: np.ndarray, mask: np.ndarray,
                 fill: np.ndarray) -> Optional[Tuple[List[int], int]]:
    """Blend ``fill`` into ``img`` (float, in place) at the square ``box``
    through the 0-255 ``mask``. Returns the tight box ``[x1, y1, x2, y2]``
    of the mask's pixels above 127 and their count, or None when none is."""
    x0, y0, size = int(box[0]), int(box[1]), mask.shape[0]
    alpha = (mask.astype(np.float64) / 255.0)[..., None]
    region = img[y0:y0 + size, x0:x0 + size]
    img[y0:y0 + size, x0:x0 + size] = region * (1 - alpha) + fill * alpha
    ys, xs = np.nonzero(mask > 127)
    if len(xs) == 0:
        return None
    return ([x0 + int(xs.min()), y0 + int(ys.min()),
             x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1], int(len(xs)))


def draw_toy_image(spec: ToyShapesSpec, split: str,
                   index: int) -> Tuple[np.ndarray, List[Dict]]:
    """Draw image ``index`` of ``split``.

    Returns:
        tuple: ``(image, objects)``; image is ``(H, W, 3)`` uint8 **RGB**,
        objects a list of ``dict(category=int 0-based, bbox=[x1, y1, x2, y2],
        area=int mask pixels)``.
    """
    rng = np.random.default_rng([spec.seed, _SPLIT_IDS[split], index, spec.version])
    h = int(rng.integers(spec.min_size, spec.max_size + 1))
    w = int(rng.integers(spec.min_size, spec.max_size + 1))
    img = _background(h, w, rng)
    table = CATEGORY_SETS[spec.categories]
    n_obj = int(rng.integers(spec.min_objects, spec.max_objects + 1))
    objects: List[Dict] = []
    boxes: List[np.ndarray] = []
    for _ in range(n_obj):
        # Log-uniform object size: several scales in every image.
        lo = math.log(spec.min_scale * min(h, w))
        hi = math.log(spec.max_scale * min(h, w))
        size = max(MIN_OBJECT_SIZE, int(round(math.exp(rng.uniform(lo, hi)))))
        cat = int(rng.integers(len(table)))
        box = _free_square(rng, h, w, size, boxes)  # a place with little overlap
        if box is None:
            continue
        _, shape, colour, texture = table[cat]
        mask = _shape_mask(shape, size, rng)
        fill = _texture(texture, size, np.asarray(colour, np.float64), rng)
        drawn = _blend_shape(img, box, mask, fill)
        if drawn is None:
            continue
        boxes.append(box)
        objects.append(dict(category=cat, bbox=drawn[0], area=drawn[1]))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), objects


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
def _coco_categories(spec: ToyShapesSpec) -> List[Dict]:
    return [dict(id=i + 1, name=name, supercategory=shape)
            for i, (name, shape, _, _) in enumerate(CATEGORY_SETS[spec.categories])]


def _info(spec: ToyShapesSpec) -> Dict:
    info = asdict(spec)
    if info['categories'] == 'shapes12':
        del info['categories']  # the sets written before the field existed
    return info


def _write_split(spec: ToyShapesSpec, split: str, root: str) -> Dict:
    num = spec.num_train if split == 'train' else spec.num_val
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for idx in range(num):
        img, objects = draw_toy_image(spec, split, idx)
        file_name = f'{split}/{idx:06d}.jpg'
        ok, buf = cv2.imencode('.jpg', img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise RuntimeError(f'toy shapes: could not encode {file_name}')
        with open(osp.join(root, file_name), 'wb') as f:
            f.write(buf.tobytes())
        image_id = idx + 1
        images.append(dict(id=image_id, file_name=file_name, height=int(img.shape[0]),
                           width=int(img.shape[1])))
        for obj in objects:
            x1, y1, x2, y2 = obj['bbox']
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id,
                category_id=obj['category'] + 1, bbox=[x1, y1, x2 - x1, y2 - y1],
                area=obj['area'], iscrowd=0))
    return dict(info=dict(description='mmfsod toy shapes', split=split, **_info(spec)),
                images=images, annotations=annotations, categories=_coco_categories(spec))


def ann_file(root: str, split: str) -> str:
    return osp.join(root, 'annotations', f'instances_{split}.json')


def read_spec(root: str) -> Optional[ToyShapesSpec]:
    """The spec a complete toy set under ``root`` was generated with, or
    ``None`` when ``root`` holds no complete set."""
    try:
        infos = []
        for split in SPLITS:
            with open(ann_file(root, split)) as f:
                infos.append(json.load(f)['info'])
    except (OSError, ValueError, KeyError):
        return None
    fields = ToyShapesSpec.__dataclass_fields__
    specs = {ToyShapesSpec(**{k: v for k, v in info.items() if k in fields})
             for info in infos}
    return specs.pop() if len(specs) == 1 else None


def generate_toy_shapes(out_dir: str, spec: Optional[ToyShapesSpec] = None,
                        overwrite: bool = False, **kwargs) -> str:
    """Write the toy shapes set under ``out_dir`` (idempotent).

    Layout: ``out_dir/{train,val}/*.jpg`` and
    ``out_dir/annotations/instances_{train,val}.json``.

    Args:
        out_dir (str): where to write.
        spec (ToyShapesSpec, optional): the parameters; or give them as
            keyword arguments (``num_train=..., seed=...``).
        overwrite (bool): replace a set generated with other parameters
            instead of raising.

    Returns:
        str: ``'exists'`` if ``out_dir`` already held this exact set,
        ``'generated'`` otherwise.

    Raises:
        ValueError: an argument is out of range, or ``out_dir`` holds a set
            generated with other parameters (and ``overwrite`` is False), or
            ``out_dir`` holds unrelated files.
    """
    if spec is None:
        unknown = set(kwargs) - set(ToyShapesSpec.__dataclass_fields__)
        if unknown:
            raise ValueError(f'toy shapes: unknown argument(s) {sorted(unknown)}; '
                             f'known: {sorted(ToyShapesSpec.__dataclass_fields__)}')
        spec = ToyShapesSpec(**kwargs)
    elif kwargs:
        raise ValueError('toy shapes: give either spec or keyword arguments')
    spec.validate()

    def write(tmp: str) -> None:
        os.makedirs(osp.join(tmp, 'annotations'))
        for split in SPLITS:
            coco = _write_split(spec, split, tmp)
            with open(ann_file(tmp, split), 'w') as f:
                json.dump(coco, f, indent=None, separators=(',', ':'))

    return write_set_once(out_dir, spec, read_spec, write, 'toy shapes', overwrite)
