from .support_template_hook import SupportTemplateHook

__all__ = ['SupportTemplateHook']
