"""Semantic-patch localization and classification: AnchorNet + LSP
(mmpretrain scope).

Importing this package registers its modules in mmpretrain's registries;
configs do it with ``custom_imports=dict(imports=['mmfsod.classification'])``.
"""
import mmfsod  # noqa: F401  (activates mmfsod.compat)
from .apis import *  # noqa: F401,F403
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
