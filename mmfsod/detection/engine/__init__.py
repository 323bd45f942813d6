from .support_template_hook import SupportTemplateHook
from .tp_fp_visualization_hook import TPFPVisualizationHook

__all__ = ['SupportTemplateHook', 'TPFPVisualizationHook']
