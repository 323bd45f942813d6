"""K-shot split generator that reproduces TFA's COCO sampler.

TFA ("Frustratingly Simple Few-Shot Object Detection", Wang et al. 2020)
publishes COCO few-shot splits made by ``datasets/prepare_coco_few_shot.py``;
most few-shot detection papers train and evaluate on those files. This module
re-implements that sampler (it shares no code with it) so that, for the same
annotation json and seed, it selects the same images and annotations, and it
writes files that TFA-style loaders read unchanged.

How the sampler works
---------------------
* Crowd annotations (``iscrowd == 1``) are dropped. For every category, the
  remaining annotations are grouped by image; the candidate images of a
  category are kept in the order their first annotation of that category
  appears in ``coco['annotations']``.
* For each seed, one random generator is seeded once with the seed; the
  categories are then visited in ascending category id and all draw from that
  single stream, so the selection of a category depends on every category
  with a smaller id.
* Within a category the shots are visited in ascending order and share one
  growing selection, which is why a larger K always contains the smaller
  ones. For shot K, the sampler repeatedly draws K distinct candidate images
  (``random.sample``) and walks through the draw: an image is skipped when it
  was selected before or when adding *all* its instances of the category
  would exceed K; otherwise the image and all those instances are added. The
  walk stops as soon as exactly K instances are selected; if a draw ends
  below K, another draw is made. Images added by a draw are never removed.
* The file of shot K and category ``name`` holds the selected images and
  only the selected annotations of that category, plus the source json's
  ``info``, ``licenses`` and full ``categories`` list.

Where TFA would not terminate
-----------------------------
TFA's script assumes every category is plentiful. It raises inside
``random.sample`` when a category has fewer candidate images than K, and
loops forever when fewer than K instances exist, or when the selection gets
stuck: a gap of ``g`` instances remains and every unselected image holds more
than ``g`` instances. Here, a requested category with fewer instances or
images than the largest K is a ``ValueError`` before sampling, and a stuck
selection is a ``ValueError`` when it happens. With ``allow_fewer=True`` both
cases warn instead: a draw takes ``min(K, number of images)`` images, and a
stuck or exhausted selection is kept as it is (for a K larger than the
category's instance count, that is all of its instances). These checks make
no random calls, so every category that TFA can sample gets TFA's selection.

Pure Python (json, random, warnings): no torch, no registry.
"""
import json
import os
import os.path as osp
import random
import warnings
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

# The shots of TFA's COCO splits.
TFA_SHOTS: Tuple[int, ...] = (1, 2, 3, 5, 10, 30)
# The keys of a TFA split file, in the order TFA writes them.
SPLIT_KEYS: Tuple[str, ...] = ('info', 'licenses', 'images', 'annotations',
                               'categories')

# image id -> that image's non-crowd annotations of one category, ordered by
# first appearance of the image in coco['annotations'].
ImageAnns = Dict[int, List[dict]]
# shot -> class name -> dict(images=[image dict], annotations=[ann dict])
Split = Dict[int, Dict[str, Dict[str, List[dict]]]]


def split_file_name(shot: int, class_name: str) -> str:
    """TFA's name of the file of one shot and one class."""
    return f'full_box_{shot}shot_{class_name}_trainval.json'


def seed_dir(out_dir: str, seed: int) -> str:
    """TFA's directory of one seed: ``out_dir`` itself for seed 0 and
    ``out_dir/seed{seed}`` otherwise (the layout TFA's loader reads)."""
    return out_dir if seed == 0 else osp.join(out_dir, f'seed{seed}')


def load_coco_json(ann_file: str) -> dict:
    """Read a COCO annotation file; ``FileNotFoundError`` names a missing
    path and ``ValueError`` names a file that is not a COCO json."""
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    with open(ann_file) as f:
        try:
            coco = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f'{ann_file} is not valid json: {exc}') from exc
    if not isinstance(coco, dict):
        raise ValueError(f'{ann_file} does not hold a COCO json object')
    return coco


def _int_list(values: Iterable[int], what: str, minimum: int) -> List[int]:
    """``values`` as a list; ``ValueError`` naming ``what`` unless it is a
    non-empty list of integers >= ``minimum``."""
    values = list(values)
    bad = [v for v in values
           if isinstance(v, bool) or not isinstance(v, int) or v < minimum]
    if not values or bad:
        kind = 'positive' if minimum == 1 else 'non-negative'
        raise ValueError(f'{what} must be a non-empty list of {kind} integers, '
                         f'got {values!r}')
    return values


def normalize_shots(shots: Iterable[int]) -> List[int]:
    """The distinct shots in ascending order (the order TFA samples them).

    Raises:
        ValueError: ``shots`` is empty or holds something other than a
            positive integer.
    """
    return sorted(set(_int_list(shots, 'shots', 1)))


def _check_seeds(seeds: Iterable[int]) -> List[int]:
    """The seeds as a list; ``ValueError`` unless they are distinct
    non-negative integers."""
    seeds = _int_list(seeds, 'seeds', 0)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must be distinct, got {seeds!r}')
    return seeds


def _check_coco(coco: dict) -> List[dict]:
    """``coco['categories']`` in ascending id; ``ValueError`` if a COCO key
    is missing or two categories share a name."""
    missing = [k for k in ('images', 'annotations', 'categories') if k not in coco]
    if missing:
        raise ValueError(f'not a COCO annotation dict, missing keys: {missing}')
    cats = sorted(coco['categories'], key=lambda c: c['id'])
    names = [c['name'] for c in cats]
    dups = sorted(n for n, num in Counter(names).items() if num > 1)
    if dups:
        raise ValueError(f'category names must be unique, repeated: {dups}')
    return cats


def _group_by_class(coco: dict, cats: List[dict]) -> Dict[int, ImageAnns]:
    """Non-crowd annotations grouped by category id, then by image id."""
    groups: Dict[int, ImageAnns] = {c['id']: {} for c in cats}
    image_ids = {img['id'] for img in coco['images']}
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0) == 1:
            continue
        if ann['category_id'] not in groups:
            raise ValueError(f'annotation {ann.get("id")} has category_id '
                             f'{ann["category_id"]}, which is not in "categories"')
        if ann['image_id'] not in image_ids:
            raise ValueError(f'annotation {ann.get("id")} has image_id '
                             f'{ann["image_id"]}, which is not in "images"')
        groups[ann['category_id']].setdefault(ann['image_id'], []).append(ann)
    return groups


def _sample_class(image_anns: ImageAnns, shots: List[int],
                  rng: random.Random) -> Dict[int, Tuple[List[int], List[dict]]]:
    """TFA's selection loop for one category (see the module docstring).

    Args:
        image_anns: the category's candidate images and their instances.
        shots: ascending shots.
        rng: the generator shared by all categories of one seed.

    Returns:
        shot -> (selected image ids, selected annotations). The lists are
        snapshots; a shot that could not be filled holds fewer than ``shot``
        annotations.
    """
    candidates = list(image_anns)  # [num_images] image ids
    used = set()
    sel_imgs: List[int] = []
    sel_anns: List[dict] = []
    result = {}
    for shot in shots:
        while len(sel_anns) < shot:
            gap = shot - len(sel_anns)
            if not any(len(image_anns[i]) <= gap
                       for i in candidates if i not in used):
                break  # stuck or exhausted: TFA would not terminate here
            for img_id in rng.sample(candidates, min(shot, len(candidates))):
                if img_id in used or \
                        len(sel_anns) + len(image_anns[img_id]) > shot:
                    continue
                used.add(img_id)
                sel_imgs.append(img_id)
                sel_anns.extend(image_anns[img_id])
                if len(sel_anns) == shot:
                    break
        result[shot] = (list(sel_imgs), list(sel_anns))
    return result


def sample_few_shot_split(coco: dict, seed: int,
                          shots: Sequence[int] = TFA_SHOTS,
                          classes: Optional[Sequence[str]] = None,
                          allow_fewer: bool = False) -> Split:
    """Select TFA's K-shot images and annotations of one seed.

    Every category of ``coco`` is sampled, in ascending id, so that the
    random stream matches TFA's; ``classes`` only chooses which are
    returned (and checked: a category that is not requested may run short
    silently, since it only keeps the stream aligned).

    Args:
        coco (dict): a COCO annotation dict (not modified).
        seed (int): the seed, as in TFA's ``random.seed(seed)``.
        shots (Sequence[int]): the K's; sampled in ascending order.
        classes (Sequence[str], optional): category names to return;
            all categories when ``None``.
        allow_fewer (bool): warn instead of raising when a requested
            category cannot give K instances; it then keeps what it got.

    Returns:
        dict: ``{K: {class_name: dict(images=[...], annotations=[...])}}``,
        K ascending and classes in category-id order. The image and
        annotation dicts are those of ``coco``, not copies.

    Raises:
        ValueError: bad ``shots``, an unknown class name, or a requested
            category with too few instances or images (unless
            ``allow_fewer``).
    """
    shots = normalize_shots(shots)
    cats = _check_coco(coco)
    names = [c['name'] for c in cats]
    if isinstance(classes, str):
        classes = [classes]
    missing = [n for n in classes or () if n not in names]
    if missing:
        raise ValueError(f'classes not in the annotation file: {missing}; '
                         f'available: {names}')
    wanted = set(names if classes is None else classes)
    groups = _group_by_class(coco, cats)

    # class name -> (non-crowd instances, images holding one)
    counts = {c['name']: (sum(len(a) for a in groups[c['id']].values()),
                          len(groups[c['id']])) for c in cats}
    short = [f'{n!r} has {counts[n][0]} instances in {counts[n][1]} images'
             for n in names if n in wanted and min(counts[n]) < shots[-1]]
    if short and not allow_fewer:
        raise ValueError(f'too few non-crowd instances or images for '
                         f'{shots[-1]}-shot: ' + '; '.join(short)
                         + ' (allow_fewer keeps what there is)')

    images = {img['id']: img for img in coco['images']}
    rng = random.Random(seed)  # the same stream as TFA's random.seed(seed)
    split: Split = {shot: {} for shot in shots}
    for cat in cats:
        picked = _sample_class(groups[cat['id']], shots, rng)
        name = cat['name']
        if name not in wanted:
            continue
        got = [f'{len(anns)} for {shot}-shot'
               for shot, (_, anns) in picked.items() if len(anns) < shot]
        if got:
            msg = (f'class {name!r} has {counts[name][0]} non-crowd instances '
                   f'in {counts[name][1]} images; seed {seed} selected '
                   + ', '.join(got))
            if not allow_fewer:
                # enough instances and images, yet no unselected image fits
                raise ValueError(msg + ': no unselected image fits the '
                                 'remaining gap (TFA would loop forever)')
            warnings.warn(msg)
        for shot, (img_ids, anns) in picked.items():
            split[shot][name] = dict(images=[images[i] for i in img_ids],
                                     annotations=anns)
    return split


def build_split_json(coco: dict, images: List[dict],
                     annotations: List[dict]) -> dict:
    """A TFA split file: the keys of :data:`SPLIT_KEYS`, in that order.

    ``info`` and ``licenses`` come from ``coco``; TFA requires them, here a
    missing one is written empty so that every file has TFA's keys.
    """
    return dict(info=coco.get('info', {}), licenses=coco.get('licenses', []),
                images=images, annotations=annotations,
                categories=coco['categories'])


def write_few_shot_splits(ann_file_or_dict: Union[str, dict], out_dir: str,
                          seeds: Iterable[int],
                          shots: Sequence[int] = TFA_SHOTS,
                          classes: Optional[Sequence[str]] = None,
                          allow_fewer: bool = False) -> Dict[int, List[str]]:
    """Write TFA's split files of several seeds.

    Layout (TFA's): ``out_dir/full_box_{K}shot_{name}_trainval.json`` for
    seed 0 and ``out_dir/seed{N}/...`` for seed N > 0; one file per seed,
    shot and class. Existing files are overwritten.

    Args:
        ann_file_or_dict (str | dict): a COCO annotation file or its dict.
        out_dir (str): the root of the split directories.
        seeds (Iterable[int]): distinct non-negative seeds.
        shots, classes, allow_fewer: as in :func:`sample_few_shot_split`.

    Returns:
        dict: seed -> the paths written for it.
    """
    seeds = _check_seeds(seeds)
    coco = (load_coco_json(ann_file_or_dict)
            if isinstance(ann_file_or_dict, str) else ann_file_or_dict)
    written = {}
    for seed in seeds:
        split = sample_few_shot_split(coco, seed, shots, classes, allow_fewer)
        bad = [n for n in next(iter(split.values()))
               if os.sep in n or (os.altsep and os.altsep in n)]
        if bad:
            raise ValueError(f'class names that cannot be file names: {bad}')
        folder = seed_dir(out_dir, seed)
        os.makedirs(folder, exist_ok=True)
        written[seed] = []
        for shot, per_class in split.items():
            for name, sel in per_class.items():
                path = osp.join(folder, split_file_name(shot, name))
                with open(path, 'w') as f:
                    json.dump(build_split_json(coco, sel['images'],
                                               sel['annotations']), f)
                written[seed].append(path)
    return written
