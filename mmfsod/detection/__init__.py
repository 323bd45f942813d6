"""Few-shot object detection (mmdet scope).

Importing this package registers its modules in mmdet's registries; configs
do it with ``custom_imports=dict(imports=['mmfsod.detection'])``.
"""
import mmfsod  # noqa: F401  (activates mmfsod.compat)
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .visualization import *  # noqa: F401,F403
