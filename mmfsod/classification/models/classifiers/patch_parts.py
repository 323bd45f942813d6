"""The parts of :class:`PatchClassifier` that build and load it: the
localizer from a config, its checkpoint, the normalisation check and the
routing of a plain classifier checkpoint into ``classifier``."""
import os.path as osp
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_checkpoint
from mmpretrain.registry import MODELS

# state-dict prefixes of a plain mmpretrain classifier (ImageClassifier)
PLAIN_CLASSIFIER_PREFIXES = ('backbone.', 'neck.', 'head.')

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..', '..'))


def _find_file(path: str, what: str) -> str:
    """``path`` as given, else relative to the repository root."""
    if osp.isfile(path):
        return path
    in_repo = osp.join(REPO_ROOT, path)
    if not osp.isabs(path) and osp.isfile(in_repo):
        return in_repo
    raise FileNotFoundError(f'PatchClassifier: {what} {path!r} does not exist')


def build_localizer(localizer: Union[dict, str, nn.Module]) -> nn.Module:
    """The AnchorNet classifier from a config dict, a config path (its
    ``model`` and ``data_preprocessor``) or a module; anything else, or a
    model without AnchorNet's geometry and head, is an error."""
    if isinstance(localizer, str):
        path = _find_file(localizer, 'localizer config')
        cfg = Config.fromfile(path)
        if 'model' not in cfg:
            raise ValueError(f'PatchClassifier: localizer config {path!r} has no '
                             '`model`')
        localizer = cfg.model.to_dict()
        if cfg.get('data_preprocessor') is not None:
            localizer.setdefault('data_preprocessor',
                                 cfg.data_preprocessor.to_dict())
    if isinstance(localizer, nn.Module):
        model = localizer
    elif isinstance(localizer, dict):
        model = MODELS.build(localizer)
    else:
        raise TypeError(f'PatchClassifier: localizer must be a config dict or a '
                        f'config path, got {type(localizer).__name__}')
    backbone = getattr(model, 'backbone', None)
    head = getattr(model, 'head', None)
    if not (hasattr(backbone, 'geometry') and hasattr(backbone, 'branch_names')
            and hasattr(head, 'predict') and hasattr(model, 'extract_feat')):
        raise TypeError('PatchClassifier: localizer must be an AnchorNet '
                        'classifier (ImageClassifier with an AnchorNet backbone '
                        f'and an AnchorNetHead), got {type(model).__name__} with '
                        f'backbone {type(backbone).__name__}')
    return model


def load_localizer(localizer: nn.Module, checkpoint: str) -> None:
    """Load ``checkpoint`` (file, path relative to the repository, or URL)
    into the localizer, strictly."""
    if '://' not in checkpoint:
        checkpoint = _find_file(checkpoint, 'localizer_checkpoint')
    try:
        load_checkpoint(localizer, checkpoint, map_location='cpu', strict=True,
                        logger='current')
    except RuntimeError as err:
        raise ValueError(f'PatchClassifier: localizer_checkpoint {checkpoint!r} '
                         f'does not fit the localizer: {err}') from err


def check_normalisation(own: nn.Module, subs: Dict[str, Optional[nn.Module]]) -> None:
    """Sub-models (name -> model) that normalise their input must do it as
    the data preprocessor ``own`` does."""
    own_norm = getattr(own, '_enable_normalize', False)
    for name, sub in subs.items():
        dp = getattr(sub, 'data_preprocessor', None) if sub is not None else None
        if dp is None or not getattr(dp, '_enable_normalize', False):
            continue
        same = (own_norm and dp.mean.shape == own.mean.shape
                and torch.allclose(dp.mean.float(), own.mean.float())
                and torch.allclose(dp.std.float(), own.std.float())
                and getattr(dp, 'to_rgb', False) == getattr(own, 'to_rgb', False))
        if not same:
            raise ValueError(
                f'PatchClassifier: the {name} normalises its input with mean '
                f'{dp.mean.flatten().tolist()}, std {dp.std.flatten().tolist()}, '
                f'to_rgb={getattr(dp, "to_rgb", None)}, but this model\'s '
                f'data_preprocessor gives '
                + (f'mean {own.mean.flatten().tolist()}, std '
                   f'{own.std.flatten().tolist()}, to_rgb='
                   f'{getattr(own, "to_rgb", None)}' if own_norm else
                   'no normalisation') + '; both sub-models see the input '
                'normalised by PatchClassifier.data_preprocessor')


def route_plain_classifier(state_dict: dict, prefix: str, classifier: nn.Module) -> None:
    """Rename, in place, the keys of a *plain* classifier checkpoint
    (``backbone.*``/``neck.*``/``head.*`` under ``prefix``) to
    ``classifier.*``; they must fit ``classifier`` exactly. A
    ``PatchClassifier`` checkpoint is left as it is."""
    keys = [k for k in state_dict if k.startswith(prefix)]
    names = [k[len(prefix):] for k in keys]
    if any(n.startswith(('classifier.', 'localizer.')) for n in names):
        return
    plain = [k for k, n in zip(keys, names)
             if n.startswith(PLAIN_CLASSIFIER_PREFIXES)]
    if not plain:
        return
    expected = set(classifier.state_dict().keys())
    got = {k[len(prefix):] for k in plain}
    missing = sorted(expected - got)
    unexpected = sorted(got - expected)
    if missing or unexpected:
        raise ValueError(
            'PatchClassifier: the checkpoint holds a plain classifier '
            '(backbone./neck./head. keys) that does not fit `classifier`: '
            f'{len(missing)} missing key(s) {missing[:5]}, {len(unexpected)} '
            f'unexpected key(s) {unexpected[:5]}')
    for key in plain:
        state_dict[prefix + 'classifier.' + key[len(prefix):]] = state_dict.pop(key)
    print_log(f'PatchClassifier: loaded a plain classifier checkpoint '
              f'({len(plain)} tensors) into `classifier`', logger='current')
