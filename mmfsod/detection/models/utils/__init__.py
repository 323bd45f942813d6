from .box_predictor_surgery import (METHODS, SurgeryError, assemble_box_predictor,
                                    box_predictor_surgery, check_class_list,
                                    remove_box_predictor)
from .freezing import freeze_all_but, frozen_norm_layers

__all__ = [
    'METHODS', 'SurgeryError', 'assemble_box_predictor', 'box_predictor_surgery',
    'check_class_list', 'remove_box_predictor', 'freeze_all_but', 'frozen_norm_layers'
]
