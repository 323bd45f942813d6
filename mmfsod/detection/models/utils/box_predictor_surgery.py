"""TFA's checkpoint surgery on the box predictor of an mmdet two-stage
detector (Wang et al. 2020, section 3.1 and their ``ckpt_surgery.py``).

mmdet's box predictor, for ``C`` classes:

* ``roi_head.bbox_head.fc_cls``: ``C + 1`` rows, one per class in the
  dataset's class order, the background row last;
* ``roi_head.bbox_head.fc_reg``: ``4 C`` rows, four per class in the same
  order (class-specific regression; a class-agnostic regressor has 4 rows
  and is copied as it is).

Rows move by class name, never by position: the classes of each checkpoint
and of the target come from datasets (checkpoint meta or config), so a class
order that differs between base training and fine-tuning is followed.

Methods:

* ``randinit``: the base rows copied, the rows of classes new to the
  checkpoint drawn as mmdet initialises the layers (``fc_cls`` N(0, 0.01),
  ``fc_reg`` N(0, 0.001), biases 0), the background row kept;
* ``remove``: the box predictor taken out, for novel-only fine-tuning (the
  new model initialises its own);
* ``combine``: the base rows from the base model, the novel rows from the
  novel-only fine-tuned model, the background row and every other weight
  from the base model.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

CLS = 'roi_head.bbox_head.fc_cls'
REG = 'roi_head.bbox_head.fc_reg'
METHODS = ('randinit', 'remove', 'combine')
INIT_STD = {CLS: 0.01, REG: 0.001}


class SurgeryError(ValueError):
    """A checkpoint, class list or method that surgery cannot work with."""


def check_class_list(classes: Sequence[str], where: str) -> Tuple[str, ...]:
    """``classes`` as a tuple; duplicates or an empty list are an error."""
    classes = tuple(classes)
    if not classes:
        raise SurgeryError(f'{where}: the class list is empty')
    dup = sorted({c for c in classes if classes.count(c) > 1})
    if dup:
        raise SurgeryError(f'{where}: classes named twice: {dup}')
    return classes


def _rows_per_class(state: Dict[str, Tensor], classes: Sequence[str],
                    where: str) -> Dict[str, int]:
    """Rows per class of each predictor layer (``fc_cls``: 1, ``fc_reg``: 4,
    or 0 for a class-agnostic regressor), checked against ``classes``."""
    out = {}
    for layer, per_class in ((CLS, 1), (REG, 4)):
        key = layer + '.weight'
        if key not in state:
            raise SurgeryError(f'{where}: no {key} in its state_dict; it is not an '
                               "mmdet two-stage detector's box predictor")
        rows = state[key].shape[0]
        want = per_class * len(classes) + (1 if layer == CLS else 0)
        if layer == REG and rows == 4 and len(classes) != 1:
            out[layer] = 0  # class-agnostic regression
        elif rows != want:
            layout = 'one per class and the background' if layer == CLS else '4 per class'
            raise SurgeryError(
                f'{where}: {key} has {rows} rows, but its {len(classes)} classes need '
                f'{want} ({layout}): the head does not match the classes')
        else:
            out[layer] = per_class
    return out


def assemble_box_predictor(sources: Sequence[Tuple[Dict[str, Tensor], Sequence[str], str]],
                           classes: Sequence[str],
                           generator: Optional[torch.Generator] = None,
                           allow_new: bool = True) -> Dict[str, Tensor]:
    """The state dict of the first source with a box predictor for
    ``classes``: each class's rows from the first source that has the class,
    new classes drawn at random (if ``allow_new``), the background row from
    the first source.

    Args:
        sources: ``(state_dict, classes, name)`` per checkpoint; ``name``
            is used in errors.
        classes: the target classes, in the target dataset's order.
        generator: the random source of new rows.
        allow_new: whether a class in no source is an error.
    """
    classes = check_class_list(classes, 'target classes')
    checked = []
    for state, src_classes, name in sources:
        src_classes = check_class_list(src_classes, f'{name} classes')
        checked.append((state, src_classes, _rows_per_class(state, src_classes, name)))
    if not allow_new:
        missing = [c for c in classes if not any(c in s[1] for s in checked)]
        if missing:
            raise SurgeryError(f'classes {missing} are in none of '
                               f'{[s[2] for s in sources]}')
    first_state, first_classes, first_rows = checked[0]
    out = dict(first_state)
    for layer in (CLS, REG):
        for suffix in ('weight', 'bias'):
            key = f'{layer}.{suffix}'
            if key not in first_state:
                continue  # e.g. the cosine classifier has no bias
            ref = first_state[key]
            per_class = first_rows[layer]
            if per_class == 0:
                out[key] = ref.clone()
                continue
            rows = per_class * len(classes) + (1 if layer == CLS else 0)
            new = torch.zeros((rows, ) + tuple(ref.shape[1:]), dtype=ref.dtype)
            if suffix == 'weight':
                new.normal_(0, INIT_STD[layer], generator=generator)
            for i, name in enumerate(classes):
                for state, src_classes, src_rows in checked:
                    if name in src_classes and key in state:
                        j = src_classes.index(name)
                        k = src_rows[layer]
                        new[i * per_class:(i + 1) * per_class] = state[key][j * k:(j + 1) * k]
                        break
            if layer == CLS:
                new[-1] = ref[-1]  # background, last in mmdet
            out[key] = new
    return out


def remove_box_predictor(state: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """``state`` without the box predictor's weights."""
    out = {k: v for k, v in state.items()
           if not (k.startswith(CLS + '.') or k.startswith(REG + '.'))}
    if len(out) == len(state):
        raise SurgeryError(f'no {CLS} / {REG} weights to remove')
    return out


def box_predictor_surgery(method: str,
                          sources: List[Tuple[Dict[str, Tensor], Sequence[str], str]],
                          classes: Optional[Sequence[str]] = None,
                          seed: int = 0) -> Dict[str, Tensor]:
    """One of TFA's methods (see the module docstring).

    Args:
        method: ``'randinit'``, ``'remove'`` or ``'combine'``.
        sources: ``(state_dict, classes, name)``: one checkpoint (randinit,
            remove), or the base model then the novel-only model (combine).
        classes: the target classes (randinit, combine).
        seed: the seed of randinit's new rows.
    """
    if method not in METHODS:
        raise SurgeryError(f'unknown surgery method {method!r}; use one of {list(METHODS)}')
    want = 2 if method == 'combine' else 1
    if len(sources) != want:
        raise SurgeryError(f'{method} takes {want} checkpoint(s), got {len(sources)}')
    if method == 'remove':
        state, src_classes, name = sources[0]
        _rows_per_class(state, check_class_list(src_classes, f'{name} classes'), name)
        return remove_box_predictor(state)
    if classes is None:
        raise SurgeryError(f'{method} needs the target classes')
    if method == 'combine':
        base, novel = sources
        both = sorted(set(base[1]) & set(novel[1]))
        if both:
            raise SurgeryError(f'combine: classes in both {base[2]} and {novel[2]}: {both}')
        return assemble_box_predictor(sources, classes, allow_new=False)
    generator = torch.Generator().manual_seed(seed)
    return assemble_box_predictor(sources, classes, generator=generator)
