"""TFA: two-stage fine-tuning approach (Wang et al. 2020, "Frustratingly
Simple Few-Shot Object Detection", section 3.1).

Base training is a plain mmdet ``FasterRCNN`` on the base classes. After
checkpoint surgery (``tools/misc/ckpt_surgery.py``) the fine-tuning stage
trains only the last layer, the box classifier and regressor, on a balanced
K-shot set of every class; the backbone, FPN, RPN and the RoI feature
extractor (the shared FCs) stay as base training left them.
"""
from typing import Sequence

from mmdet.models.detectors import FasterRCNN
from mmdet.registry import MODELS

from ..utils import freeze_all_but, frozen_norm_layers

BOX_PREDICTOR = ('roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg')


@MODELS.register_module()
class TFA(FasterRCNN):
    """Faster R-CNN with everything frozen but ``trainable``.

    Args:
        trainable (Sequence[str]): the modules that are trained (as
            ``named_parameters`` spells them); TFA's fine-tuning: the box
            predictor. Every other parameter gets ``requires_grad=False``
            when the model is built (so that DDP never waits for its
            gradient), and batch-norm layers without a trainable parameter
            stay in eval mode in training.
        *args, **kwargs: those of mmdet's ``FasterRCNN``.
    """

    def __init__(self, *args, trainable: Sequence[str] = BOX_PREDICTOR, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(trainable, str):
            trainable = (trainable, )
        self.trainable = tuple(trainable)
        self.trainable_names, self.frozen_names = freeze_all_but(self, self.trainable)
        self._frozen_norms = frozen_norm_layers(self)

    def train(self, mode: bool = True) -> 'TFA':
        super().train(mode)
        for module in self._frozen_norms:
            module.eval()
        return self
