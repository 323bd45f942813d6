"""K-shot split generator that reproduces TFA's PASCAL VOC sampler.

TFA (Wang et al. 2020) writes the VOC few-shot splits of seeds 1-29 with
``datasets/prepare_voc_few_shot.py``; seed 0 is the fixed sample of Kang et
al. (2019), which TFA ships as files. This module re-implements the sampler
(it shares no code with it): for the same annotations and seed it writes the
same files, line for line.

How the sampler works
---------------------
* The images are the ids of every root's ``ImageSets/Main/trainval.txt``,
  roots in the order given (VOC2007, then VOC2012). For each class, its
  candidate list holds the annotation file of every image with at least one
  object of the class (``difficult`` ones included), in that image order.
* For each seed, one random generator is seeded once (``random.seed(seed)``)
  and the classes are visited in :data:`VOC_CLASSES` order, all drawing from
  that one stream.
* Within a class the shots are visited in ascending order and share one
  growing list of images: for shot ``K_j`` the sampler draws ``d = K_j -
  K_{j-1}`` candidates (``d = 1`` for the first shot) with
  ``random.sample`` and appends them in draw order, adding up the objects
  of the class they hold and stopping as soon as the sum reaches ``d``. The
  file of shot K lists every image appended so far, so it may hold more than
  K objects of the class (the dataset keeps K of them, as TFA's loader
  does).
* TFA's loop tests whether a drawn image is already in the list, but it
  compares an annotation path with image paths, so the test always passes
  and an image drawn twice is listed twice. That is reproduced: the files
  are the same, and the dataset reads a repeated line once.
* Each line is ``{prefix}/{folder}/JPEGImages/{filename}`` with the
  ``<folder>`` and ``<filename>`` of the image's XML (``datasets`` is TFA's
  prefix); files are ``box_{K}shot_{class}_train.txt``, lines joined by
  newlines plus a final newline, seed N in ``out_dir/seedN``.

Differences that make no random call, so that every case TFA samples gets
TFA's files: a class with fewer candidate images than a draw is a
``ValueError`` before sampling (TFA's ``random.sample`` raises), or with
``allow_fewer`` draws all of them; an XML without ``<folder>`` or
``<filename>`` uses the root's folder name and ``{id}.jpg`` (TFA fails). The
shots sampled are always TFA's (1, 2, 3, 5, 10) and any extra ones requested;
an extra shot changes the stream of the classes after the first (the files
of a run with TFA's shots only are TFA's).

Pure Python (random, xml.etree): no torch, no registry.
"""
import os
import os.path as osp
import random
import shutil
import warnings
from typing import Dict, Iterable, List, Optional, Sequence

from .few_shot_split import _check_seeds, normalize_shots, seed_dir
from .voc_splits import TFA_VOC_SHOTS, VOC_CLASSES
from .voc_xml import check_class_names, parse_voc_xml, read_image_set

# class name -> shot -> the lines of its file
VOCSplit = Dict[str, Dict[int, List[str]]]


def voc_split_file_name(shot: int, class_name: str) -> str:
    """TFA's name of the VOC file of one shot and one class."""
    return f'box_{shot}shot_{class_name}_train.txt'


def index_voc_images(roots: Sequence[str], class_order: Sequence[str] = VOC_CLASSES,
                     image_set: str = 'trainval') -> Dict:
    """Read the image sets and XMLs of ``roots`` once.

    Returns:
        dict: ``per_class``: class -> candidate annotation files (TFA's
        ``data_per_cat``); ``lines``: annotation file -> its line in a
        K-shot file without the prefix (``{folder}/JPEGImages/{filename}``);
        ``counts``: annotation file -> class -> number of objects.
    """
    if isinstance(roots, str):
        roots = [roots]
    if not roots:
        raise ValueError('give at least one VOC root (a folder with Annotations/, '
                         'ImageSets/Main/, JPEGImages/)')
    per_class = {c: [] for c in class_order}
    lines, counts = {}, {}
    for root in roots:
        for img_id in read_image_set(osp.join(root, 'ImageSets', 'Main', f'{image_set}.txt')):
            path = osp.join(root, 'Annotations', f'{img_id}.xml')
            ann = parse_voc_xml(path)
            check_class_names(path, ann['objects'], class_order)
            folder = ann['folder'] or osp.basename(osp.normpath(root))
            lines[path] = f'{folder}/JPEGImages/{ann["filename"] or img_id + ".jpg"}'
            counts[path] = {}
            for obj in ann['objects']:
                counts[path][obj['name']] = counts[path].get(obj['name'], 0) + 1
            for name in counts[path]:
                per_class[name].append(path)
    return dict(per_class=per_class, lines=lines, counts=counts)


def _draws(shots: List[int]) -> List[int]:
    """The number of images drawn for each shot: ``K_j - K_{j-1}``, 1 for
    the first (TFA's shots start at 1)."""
    return [shot - (shots[j - 1] if j else 0) for j, shot in enumerate(shots)]


def sample_voc_few_shot(index: Dict, seed: int, shots: Sequence[int] = TFA_VOC_SHOTS,
                        class_order: Sequence[str] = VOC_CLASSES,
                        prefix: str = 'datasets', allow_fewer: bool = False) -> VOCSplit:
    """TFA's VOC K-shot selection of one seed.

    Args:
        index (dict): :func:`index_voc_images` of the training roots.
        seed (int): as in TFA's ``random.seed(seed)``.
        shots (Sequence[int]): K's to return; TFA's shots are always sampled
            too (see the module docstring).
        class_order (Sequence[str]): the order the classes draw in
            (:data:`VOC_CLASSES` for VOC).
        prefix (str): the start of every line (TFA's ``datasets``).
        allow_fewer (bool): warn instead of raising when a class has fewer
            candidate images than a draw; it then draws all of them.

    Returns:
        dict: class -> shot -> the lines of its file.
    """
    wanted = normalize_shots(shots)
    sampled = sorted(set(wanted) | set(TFA_VOC_SHOTS))
    draws = _draws(sampled)
    per_class = index['per_class']
    missing = [c for c in class_order if c not in per_class]
    if missing:
        raise ValueError(f'classes {missing} were not indexed (index_voc_images with '
                         'the same class_order)')
    short = [f'{c!r} has {len(per_class[c])}' for c in class_order
             if len(per_class[c]) < max(draws)]
    if short:
        msg = (f'too few images for a draw of {max(draws)} (shots {sampled}): '
               + ', '.join(short) + ' images')
        if not allow_fewer:
            raise ValueError(msg + ' (allow_fewer draws what there is)')
        warnings.warn(msg)
    rng = random.Random(seed)  # the same stream as TFA's random.seed(seed)
    result: VOCSplit = {}
    for c in class_order:
        pool = per_class[c]
        chosen: List[str] = []
        result[c] = {}
        for shot, draw in zip(sampled, draws):
            num_objs = 0
            picks = rng.sample(pool, min(draw, len(pool))) if pool else []
            for ann_file in picks:
                # TFA's `if s not in c_data` is always true (see above)
                chosen.append(f'{prefix}/{index["lines"][ann_file]}' if prefix
                              else index['lines'][ann_file])
                num_objs += index['counts'][ann_file][c]
                if num_objs >= draw:
                    break
            if shot in wanted:
                result[c][shot] = list(chosen)
    return result


def copy_kang_split(kang_dir: str, out_dir: str, shots: Iterable[int],
                    classes: Sequence[str]) -> List[str]:
    """Copy the seed-0 files (Kang et al.'s sample) from ``kang_dir``."""
    written = []
    os.makedirs(out_dir, exist_ok=True)
    for shot in shots:
        for c in classes:
            src = osp.join(kang_dir, voc_split_file_name(shot, c))
            if not osp.isfile(src):
                raise FileNotFoundError(f'seed 0 file not found: {src} (--kang-dir must hold '
                                        "Kang et al.'s box_{K}shot_{class}_train.txt files, "
                                        "as in TFA's datasets/vocsplit/)")
            dst = osp.join(out_dir, voc_split_file_name(shot, c))
            if osp.abspath(src) != osp.abspath(dst):
                shutil.copyfile(src, dst)
            written.append(dst)
    return written


KANG_SEED0 = ("seed 0 is Kang et al.'s fixed sample, which is not drawn by TFA's sampler "
              'and cannot be downloaded here: pass --kang-dir DIR with its '
              "box_{K}shot_{class}_train.txt files (TFA's datasets/vocsplit/), or "
              '--sample-seed0 to draw seed 0 with the sampler (data other than VOC)')


def write_voc_few_shot_splits(roots: Sequence[str], out_dir: str, seeds: Iterable[int],
                              shots: Sequence[int] = TFA_VOC_SHOTS,
                              class_order: Sequence[str] = VOC_CLASSES,
                              classes: Optional[Sequence[str]] = None,
                              kang_dir: Optional[str] = None, sample_seed0: bool = False,
                              prefix: str = 'datasets',
                              allow_fewer: bool = False) -> Dict[int, List[str]]:
    """Write TFA's VOC K-shot files of several seeds.

    Seed N > 0 goes to ``out_dir/seedN``; seed 0 to ``out_dir`` itself:
    Kang et al.'s files copied from ``kang_dir``, or (``sample_seed0``)
    drawn with ``random.seed(0)``. ``classes`` chooses which files are
    written (all of ``class_order`` by default); every class is sampled.

    Returns:
        dict: seed -> the paths written for it.
    """
    seeds = _check_seeds(seeds)
    shots = normalize_shots(shots)
    classes = list(class_order if classes is None else classes)
    unknown = [c for c in classes if c not in class_order]
    if unknown:
        raise ValueError(f'classes {unknown} are not in the class order {list(class_order)}')
    bad = [c for c in classes if os.sep in c or (os.altsep and os.altsep in c)]
    if bad:
        raise ValueError(f'class names that cannot be file names: {bad}')
    if 0 in seeds and kang_dir is None and not sample_seed0:
        raise ValueError(KANG_SEED0)
    index = None
    written = {}
    for seed in seeds:
        folder = seed_dir(out_dir, seed)
        if seed == 0 and kang_dir is not None:
            written[seed] = copy_kang_split(kang_dir, folder, shots, classes)
            continue
        if index is None:
            index = index_voc_images(roots, class_order)
        split = sample_voc_few_shot(index, seed, shots, class_order, prefix, allow_fewer)
        os.makedirs(folder, exist_ok=True)
        written[seed] = []
        for c in classes:
            for shot in shots:
                path = osp.join(folder, voc_split_file_name(shot, c))
                with open(path, 'w') as f:
                    f.write('\n'.join(split[c][shot]) + '\n')
                written[seed].append(path)
    return written
