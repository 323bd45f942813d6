"""Hand-made PASCAL VOC folders for the VOC tests (no image is needed:
every XML gives its size)."""
import os
import os.path as osp
import random
from typing import Dict, List, Sequence

# (name, difficult) per object; boxes are made up from the object index
Objects = Sequence[tuple]


def xml_text(folder: str, filename: str, objects: Objects, width: int = 100,
             height: int = 80) -> str:
    """A VOC annotation file as text; object ``j`` has the 1-based box
    ``(j + 2, j + 3, j + 30, j + 40)``."""
    objs = ''.join(
        f'<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>'
        f'<difficult>{difficult}</difficult><bndbox><xmin>{j + 2}</xmin>'
        f'<ymin>{j + 3}</ymin><xmax>{j + 30}</xmax><ymax>{j + 40}</ymax></bndbox></object>'
        for j, (name, difficult) in enumerate(objects))
    return (f'<annotation><folder>{folder}</folder><filename>{filename}</filename>'
            f'<size><width>{width}</width><height>{height}</height><depth>3</depth></size>'
            f'{objs}</annotation>\n')


def write_voc_root(root: str, images: Dict[str, Objects],
                   image_sets: Dict[str, List[str]] = None) -> str:
    """Write ``root/{Annotations,ImageSets/Main}``; ``images``: id ->
    objects; ``image_sets``: set name -> ids (default: trainval = all)."""
    folder = osp.basename(osp.normpath(root))
    os.makedirs(osp.join(root, 'Annotations'), exist_ok=True)
    os.makedirs(osp.join(root, 'ImageSets', 'Main'), exist_ok=True)
    os.makedirs(osp.join(root, 'JPEGImages'), exist_ok=True)
    for voc_id, objects in images.items():
        with open(osp.join(root, 'Annotations', f'{voc_id}.xml'), 'w') as f:
            f.write(xml_text(folder, f'{voc_id}.jpg', objects))
    for name, ids in (image_sets or {'trainval': list(images)}).items():
        with open(osp.join(root, 'ImageSets', 'Main', f'{name}.txt'), 'w') as f:
            f.write(''.join(f'{i}\n' for i in ids))
    return root


def random_images(ids: Sequence[str], classes: Sequence[str], seed: int) -> Dict[str, Objects]:
    """Images with 1-2 classes each, 1-3 objects of a class, some difficult."""
    rng = random.Random(seed)
    out = {}
    for voc_id in ids:
        objects = []
        for name in rng.sample(list(classes), rng.choice([1, 1, 2])):
            objects += [(name, int(rng.random() < 0.15))
                        for _ in range(rng.choice([1, 1, 2, 3]))]
        out[voc_id] = objects
    return out


CLASSES = ('cat', 'dog', 'bird')


def two_roots(base: str) -> List[str]:
    """A VOC2007-like root (24 images) and a VOC2012-like one (16 images,
    ids with an underscore), every class in at least 5 images of each."""
    r07 = write_voc_root(osp.join(base, 'VOC2007'),
                         random_images([f'{i:06d}' for i in range(1, 25)], CLASSES, 1))
    r12 = write_voc_root(osp.join(base, 'VOC2012'),
                         random_images([f'2008_{i:06d}' for i in range(1, 17)], CLASSES, 2))
    return [r07, r12]
