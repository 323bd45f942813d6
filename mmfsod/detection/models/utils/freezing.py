"""Freezing all of a model but a few named modules (TFA's fine-tuning)."""
from typing import List, Sequence, Tuple

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + '.')


def freeze_all_but(model: nn.Module, trainable: Sequence[str]
                   ) -> Tuple[List[str], List[str]]:
    """Set ``requires_grad=False`` on every parameter of ``model`` except
    those under the modules (or parameters) named in ``trainable``.

    Args:
        model (nn.Module): the model, e.g. a detector.
        trainable (Sequence[str]): module paths as ``named_parameters`` spells
            them, e.g. ``'roi_head.bbox_head.fc_cls'``.

    Returns:
        tuple[list[str], list[str]]: the names of the trainable and of the
        frozen parameters.

    Raises:
        ValueError: a name in ``trainable`` that matches no parameter of the
        model (a typo would otherwise freeze everything).
    """
    trainable = list(trainable)
    names = [n for n, _ in model.named_parameters()]
    unknown = [t for t in trainable if not any(_matches(n, t) for n in names)]
    if unknown:
        raise ValueError(
            f'{type(model).__name__}: trainable names {unknown} match no parameter '
            f'(its parameters are under {sorted({n.split(".")[0] for n in names})})')
    kept, frozen = [], []
    for name, param in model.named_parameters():
        if any(_matches(name, t) for t in trainable):
            kept.append(name)
        else:
            param.requires_grad_(False)
            frozen.append(name)
    return kept, frozen


def frozen_norm_layers(model: nn.Module) -> List[nn.Module]:
    """The batch-norm layers of ``model`` whose parameters are all frozen:
    they must stay in eval mode, or their running statistics would change
    although nothing is trained there."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm)
            and not any(p.requires_grad for p in m.parameters(recurse=False))]
