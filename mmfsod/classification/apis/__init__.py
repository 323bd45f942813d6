"""Inference APIs: AnchorNet + LSP on a folder of images."""
from .lsp_inference import LSPInferencer, list_images, localize_folder

__all__ = ['LSPInferencer', 'list_images', 'localize_folder']
