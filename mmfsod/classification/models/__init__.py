"""AnchorNet models (mmpretrain scope): the padding-free backbone with its
localization branches and the branch head (logits maps x attention, losses,
decision rule), and the downstream classifier that classifies an image from
its semantic patches. AnchorNet itself is mmpretrain's ``ImageClassifier``
with ``neck=None``."""
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
