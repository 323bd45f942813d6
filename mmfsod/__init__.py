"""mmfsod: few-shot detection (GCN-FSOD) and semantic-patch classification
(AnchorNet + LSP) on mmengine / mmdet 3.x / mmpretrain 1.x.

Importing :mod:`mmfsod` activates :mod:`mmfsod.compat` (checkpoint loading on
torch >= 2.6, multi-process training on CPU, atomic checkpoint writes, clear
errors for damaged checkpoints) and registers :mod:`mmfsod.engine`'s
RandomStateHook (exact resume). The two method families are
imported explicitly, usually by a config's ``custom_imports``:

* :mod:`mmfsod.detection` -- few-shot detection, registered in mmdet's scope;
* :mod:`mmfsod.classification` -- patch localization / classification,
  registered in mmpretrain's scope.
"""
from . import compat
from .version import __version__

compat.activate()

from . import engine  # noqa: E402  (RandomStateHook, in mmengine's registry)

__all__ = ['__version__', 'compat', 'engine']
