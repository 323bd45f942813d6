"""Deterministic generator of the *toy clutter* classification set.

The toy clutter set is the classification counterpart of the toy shapes
detection set (:mod:`mmfsod.utils.toy_shapes`): small enough to train a
light classifier (AnchorNet) on a 2-core CPU in minutes, and built so that
**localizing matters**. Every image holds exactly ONE labelled object, at a
random place and scale, among distractors; the class is a *conjunction* of a
shape and a colour, and each shape and each colour belongs to two classes:

==================  =========  ======
class               shape      colour
==================  =========  ======
blue_circle         circle     blue
blue_square         square     blue
green_square        square     green
green_triangle      triangle   green
red_circle          circle     red
red_triangle        triangle   red
==================  =========  ======

The distractors share a class's colour or its shape, never both:

* one in each class colour other than the label's, so that **every image
  shows each class colour exactly once** (the labelled object is the one of
  its colour): either ``'colour'`` -- on a shape no class has (cross, star,
  L, arrow) -- or ``'swap'`` -- on a class shape whose pair with that colour
  is no class (green circle, red square, blue triangle);
* the others ``'shape'`` -- a class shape in a colour no class has (yellow,
  magenta, cyan, white).

Every object (labelled or not) gets a random texture (solid, stripes, dots)
and a size from the same range, and no two objects overlap; the background
is toy shapes' (smooth low-saturation field, noise, thin grey lines, grey
blobs). So neither the colours present, nor their amounts, nor the shapes
present decide the label: only the shape and colour found *at the same
place* do.

Image ``i`` of a split depends only on ``(seed, split, i)`` (its class is
``i % num_classes``, so the classes are balanced), hence the same arguments
give byte-identical files and a larger ``num_train`` extends a smaller one.

Layout on disk, which mmpretrain's ``CustomDataset`` reads directly (the
ImageNet layout)::

    root/
      train/<class>/<index:06d>.jpg      val/<class>/<index:06d>.jpg
      holdout/<class>/<index:06d>.jpg    (only with num_holdout > 0)
      meta/train.txt, meta/val.txt       "<class>/<index:06d>.jpg <label>"
      meta/holdout.txt
      meta/classes.txt                   class names, one a line, label order
      meta/objects_{train,val}.json      the labelled object's box and the
                                         distractors of every image
      meta/spec.json                     the generator's arguments

i.e. ``CustomDataset(data_root=root, ann_file='meta/train.txt',
data_prefix='train')``. The class table is in alphabetical order, so the
folder scan (no ``ann_file``) gives the same labels.

Pure numpy / OpenCV: no registry, no torch. :func:`generate_toy_clutter` is
the entry point; ``tools/data/generate_toy_clutter.py`` is its command line,
and :class:`mmfsod.classification.datasets.ToyClutterDataset` calls it on
first use. The drawing reuses toy shapes' shape, texture and background
helpers: a change there that changes pixels must bump ``version`` here too.
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
from mmfsod.utils.toy_shapes import _background, _shape_mask, _texture

Colour = Tuple[int, int, int]

# Colours of the classes and of the 'shape' distractors (RGB); far apart in hue.
CLASS_COLOURS: Dict[str, Colour] = {
    'blue': (30, 60, 220), 'green': (30, 170, 40), 'red': (220, 30, 30)}
DISTRACTOR_COLOURS: Dict[str, Colour] = {
    'yellow': (235, 210, 20), 'magenta': (210, 30, 200), 'cyan': (20, 200, 210),
    'white': (245, 245, 245)}
# Shapes no class has (for the 'colour' distractors); all clearly unlike a
# circle, a square or a triangle.
DISTRACTOR_SHAPES: Tuple[str, ...] = ('cross', 'star', 'lshape', 'arrow')
# Every object's texture is one of these at random: texture is no cue.
TEXTURES: Tuple[str, ...] = ('solid', 'stripes', 'dots')

# The class table is data: (name, shape, colour name), in alphabetical order
# of the name (= label order = sorted folder order).
TOY_CLUTTER_CATEGORIES: Tuple[Tuple[str, str, str], ...] = (
    ('blue_circle', 'circle', 'blue'),
    ('blue_square', 'square', 'blue'),
    ('green_square', 'square', 'green'),
    ('green_triangle', 'triangle', 'green'),
    ('red_circle', 'circle', 'red'),
    ('red_triangle', 'triangle', 'red'),
)
CLASS_SHAPES: Tuple[str, ...] = tuple(sorted({c[1] for c in TOY_CLUTTER_CATEGORIES}))
TOY_CLUTTER_CLASSES: Tuple[str, ...] = tuple(c[0] for c in TOY_CLUTTER_CATEGORIES)
DISTRACTOR_KINDS: Tuple[str, ...] = ('colour', 'swap', 'shape')

# 'holdout': images of the training distribution that no model trains on,
# for calibrating test-time choices (early-exit thresholds); written only
# when num_holdout > 0.
SPLITS = ('train', 'val', 'holdout')
_SPLIT_IDS = {'train': 0, 'val': 1, 'holdout': 2}
# Smallest object side in pixels: below this shapes stop being recognisable.
MIN_OBJECT_SIZE = 12
# Free pixels kept between any two objects.
_GAP = 2


@dataclass(frozen=True)
class ToyClutterSpec:
    """All parameters of a toy clutter set; recorded in ``meta/spec.json``."""
    num_train: int = 600
    num_val: int = 120
    num_holdout: int = 0
    num_classes: int = 6
    img_size: int = 224
    # side of the labelled object and of the distractors, as a fraction of
    # the image side (log-uniform between the two)
    min_scale: float = 0.15
    max_scale: float = 0.35
    # distractors per image (fewer where they do not fit); the first
    # len(CLASS_COLOURS) - 1 are the colour-balancing ones
    min_distractors: int = 3
    max_distractors: int = 6
    seed: int = 0
    version: int = 1  # bump when the drawing code changes the output

    def validate(self) -> None:
        """Raise ``ValueError`` naming the argument that is out of range."""
        need = SpecChecker(
            self, 'toy clutter',
            ints=('num_train', 'num_val', 'num_holdout', 'num_classes', 'img_size',
                  'min_distractors', 'max_distractors', 'seed', 'version'),
            reals=('min_scale', 'max_scale')).need
        n_max = len(TOY_CLUTTER_CATEGORIES)
        need(2 <= self.num_classes <= n_max,
             f'num_classes must be in [2, {n_max}], got {self.num_classes}')
        need(self.num_train >= self.num_classes,
             f'num_train must be >= num_classes ({self.num_classes}) so that every '
             f'class has an image, got {self.num_train}')
        need(self.num_val >= self.num_classes,
             f'num_val must be >= num_classes ({self.num_classes}) so that every '
             f'class has an image, got {self.num_val}')
        need(self.num_holdout >= 0,
             f'num_holdout must be >= 0, got {self.num_holdout}')
        need(self.seed >= 0, f'seed must be >= 0, got {self.seed}')
        need(64 <= self.img_size <= 1024,
             f'img_size must be in [64, 1024], got {self.img_size}')
        need(0 < self.min_scale <= self.max_scale <= 0.5,
             f'need 0 < min_scale <= max_scale <= 0.5, got min_scale='
             f'{self.min_scale}, max_scale={self.max_scale}')
        need(self.min_scale * self.img_size >= MIN_OBJECT_SIZE,
             f'min_scale * img_size = {self.min_scale * self.img_size:.1f} px is '
             f'below the smallest recognisable object ({MIN_OBJECT_SIZE} px)')
        n_bal = len(CLASS_COLOURS) - 1
        need(n_bal <= self.min_distractors <= self.max_distractors <= 20,
             f'need {n_bal} <= min_distractors <= max_distractors <= 20 (one '
             'distractor in each class colour but the label\'s), got '
             f'min_distractors={self.min_distractors}, '
             f'max_distractors={self.max_distractors}')

    @property
    def classes(self) -> Tuple[str, ...]:
        return TOY_CLUTTER_CLASSES[:self.num_classes]


def make_spec(**kwargs) -> ToyClutterSpec:
    """A validated :class:`ToyClutterSpec` from keyword arguments; an unknown
    or out-of-range argument is a ``ValueError`` naming it."""
    known = set(ToyClutterSpec.__dataclass_fields__)
    unknown = set(kwargs) - known
    if unknown:
        raise ValueError(f'toy clutter: unknown argument(s) {sorted(unknown)}; '
                         f'known: {sorted(known)}')
    spec = ToyClutterSpec(**kwargs)
    spec.validate()
    return _plain(spec)


def _plain(spec: ToyClutterSpec) -> ToyClutterSpec:
    """The same spec with plain Python numbers (numpy integers, say, from a
    config or a sweep would not go into ``spec.json``)."""
    return ToyClutterSpec(**{
        k: float(v) if k in ('min_scale', 'max_scale') else int(v)
        for k, v in asdict(spec).items()})


# --------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------
def _colour(name: str) -> np.ndarray:
    return np.asarray(CLASS_COLOURS.get(name) or DISTRACTOR_COLOURS[name], np.float64)


def _paste(img: np.ndarray, shape: str, colour: np.ndarray, texture: str,
           x0: int, y0: int, size: int, rng: np.random.Generator) -> Optional[List[int]]:
    """Draw one object into ``img`` (in place); return its tight box
    ``[x1, y1, x2, y2]`` (from its mask) or ``None`` if nothing was drawn."""
    mask = _shape_mask(shape, size, rng)
    fill = _texture(texture, size, colour, rng)
    alpha = (mask.astype(np.float64) / 255.0)[..., None]
    patch = img[y0:y0 + size, x0:x0 + size]
    img[y0:y0 + size, x0:x0 + size] = patch * (1 - alpha) + fill * alpha
    ys, xs = np.nonzero(mask > 127)
    if len(xs) == 0:
        return None
    return [x0 + int(xs.min()), y0 + int(ys.min()),
            x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1]


def _apart(a: Tuple[int, int, int, int], b: Tuple[int, int, int, int]) -> bool:
    """Whether two ``(x1, y1, x2, y2)`` boxes are at least ``_GAP`` px apart."""
    return (a[2] + _GAP <= b[0] or b[2] + _GAP <= a[0]
            or a[3] + _GAP <= b[1] or b[3] + _GAP <= a[1])


def draw_clutter_image(spec: ToyClutterSpec, split: str,
                       index: int) -> Tuple[np.ndarray, Dict]:
    """Draw image ``index`` of ``split``.

    Returns:
        tuple: ``(image, info)``; image is ``(S, S, 3)`` uint8 **RGB**
        (``S = spec.img_size``), info a dict with ``label`` (int, 0-based),
        ``name`` (class name), ``bbox`` (the labelled object's tight box
        ``[x1, y1, x2, y2]``), ``texture`` and ``distractors`` (list of
        ``dict(kind, shape, colour, texture, bbox)``).
    """
    if split not in _SPLIT_IDS:
        raise ValueError(f'toy clutter: split must be one of {SPLITS}, got {split!r}')
    rng = np.random.default_rng([spec.seed, _SPLIT_IDS[split], index, spec.version])
    side = spec.img_size
    img = _background(side, side, rng)
    lo = math.log(spec.min_scale * side)
    hi = math.log(spec.max_scale * side)
    taken: List[Tuple[int, int, int, int]] = []

    def place(tries):
        """A random free square ``(x0, y0, size)``, or ``None``."""
        for _ in range(tries):
            size = max(MIN_OBJECT_SIZE, int(round(math.exp(rng.uniform(lo, hi)))))
            x0 = int(rng.integers(0, side - size + 1))
            y0 = int(rng.integers(0, side - size + 1))
            box = (x0, y0, x0 + size, y0 + size)
            if all(_apart(box, t) for t in taken):
                taken.append(box)
                return x0, y0, size
        return None

    def pick(options):
        return options[int(rng.integers(len(options)))]

    # The labelled object first: it is always drawn, whole.
    label = index % spec.num_classes
    name, shape, colour = TOY_CLUTTER_CATEGORIES[label]
    texture = pick(TEXTURES)
    x0, y0, size = place(1)
    bbox = _paste(img, shape, _colour(colour), texture, x0, y0, size, rng)
    assert bbox is not None  # a filled shape of >= 12 px always has pixels

    # What the distractors are: one in each other class colour, then 'shape'.
    class_pairs = {(s, c) for _, s, c in TOY_CLUTTER_CATEGORIES[:spec.num_classes]}
    plan = []
    for c in sorted(CLASS_COLOURS):
        if c == colour:
            continue
        swaps = [s for s in CLASS_SHAPES if (s, c) not in class_pairs]
        kind = pick(['colour', 'swap'] if swaps else ['colour'])
        plan.append((kind, pick(DISTRACTOR_SHAPES if kind == 'colour' else swaps), c))
    n_total = int(rng.integers(spec.min_distractors, spec.max_distractors + 1))
    for _ in range(n_total - len(plan)):
        plan.append(('shape', pick(CLASS_SHAPES), pick(sorted(DISTRACTOR_COLOURS))))

    distractors: List[Dict] = []
    for kind, d_shape, d_colour in plan:
        d_texture = pick(TEXTURES)
        # the colour-balancing ones try harder to find a free place
        where = place(200 if kind != 'shape' else 30)
        if where is None:
            continue
        d_bbox = _paste(img, d_shape, _colour(d_colour), d_texture, *where, rng)
        if d_bbox is not None:
            distractors.append(dict(kind=kind, shape=d_shape, colour=d_colour,
                                    texture=d_texture, bbox=d_bbox))
    info = dict(label=label, name=name, bbox=bbox, texture=texture,
                distractors=distractors)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), info


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
def image_file(spec: ToyClutterSpec, split: str, index: int) -> str:
    """Path of image ``index`` relative to ``root/<split>/`` (the
    annotation lists' file names)."""
    return f'{TOY_CLUTTER_CLASSES[index % spec.num_classes]}/{index:06d}.jpg'


def split_size(spec: ToyClutterSpec, split: str) -> int:
    """Images of ``split`` (0: the split is not written)."""
    return {'train': spec.num_train, 'val': spec.num_val,
            'holdout': spec.num_holdout}[split]


def _write_split(spec: ToyClutterSpec, split: str, root: str) -> None:
    num = split_size(spec, split)
    for name in spec.classes:
        os.makedirs(osp.join(root, split, name))
    lines, objects = [], []
    for idx in range(num):
        img, info = draw_clutter_image(spec, split, idx)
        file_name = image_file(spec, split, idx)
        ok, buf = cv2.imencode('.jpg', img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise RuntimeError(f'toy clutter: could not encode {split}/{file_name}')
        with open(osp.join(root, split, file_name), 'wb') as f:
            f.write(buf.tobytes())
        lines.append(f'{file_name} {info["label"]}\n')
        objects.append(dict(file=file_name, **info))
    with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
        f.writelines(lines)
    with open(osp.join(root, 'meta', f'objects_{split}.json'), 'w') as f:
        json.dump(dict(split=split, images=objects), f, separators=(',', ':'))


def read_spec(root: str) -> Optional[ToyClutterSpec]:
    """The spec a complete toy clutter set under ``root`` was generated with,
    or ``None`` when ``root`` holds no complete set."""
    try:
        with open(osp.join(root, 'meta', 'spec.json')) as f:
            info = json.load(f)
        fields = ToyClutterSpec.__dataclass_fields__
        spec = ToyClutterSpec(**{k: v for k, v in info.items() if k in fields})
    except (OSError, ValueError, TypeError):
        return None
    for split in SPLITS:
        if split_size(spec, split) and not osp.isfile(
                osp.join(root, 'meta', f'{split}.txt')):
            return None
    return spec


def generate_toy_clutter(out_dir: str, spec: Optional[ToyClutterSpec] = None,
                         overwrite: bool = False, **kwargs) -> str:
    """Write the toy clutter set under ``out_dir`` (idempotent).

    Args:
        out_dir (str): where to write (layout: see the module docstring).
        spec (ToyClutterSpec, optional): the parameters; or give them as
            keyword arguments (``num_train=..., seed=...``).
        overwrite (bool): replace a set generated with other parameters
            instead of raising.

    Returns:
        str: ``'exists'`` if ``out_dir`` already held this exact set,
        ``'generated'`` otherwise.

    Raises:
        ValueError: an argument is out of range or unknown, or ``out_dir``
            holds a set generated with other parameters (and ``overwrite`` is
            False), or ``out_dir`` holds unrelated files.
    """
    if spec is None:
        spec = make_spec(**kwargs)
    elif kwargs:
        raise ValueError('toy clutter: give either spec or keyword arguments')
    else:
        spec.validate()
        spec = _plain(spec)

    def write(tmp: str) -> None:
        os.makedirs(osp.join(tmp, 'meta'))
        for split in SPLITS:
            if split_size(spec, split):
                _write_split(spec, split, tmp)
        with open(osp.join(tmp, 'meta', 'classes.txt'), 'w') as f:
            f.writelines(f'{name}\n' for name in spec.classes)
        with open(osp.join(tmp, 'meta', 'spec.json'), 'w') as f:
            json.dump(dict(description='mmfsod toy clutter', **asdict(spec)), f,
                      indent=1, sort_keys=True)

    return write_set_once(out_dir, spec, read_spec, write, 'toy clutter', overwrite)
