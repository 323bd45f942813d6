"""LSP at test time: the hook that writes AnchorNet's localized semantic
patches (JSON lines) and pictures, and the recorder it shares with the
folder inference API."""
from .lsp_drawing import attention_canvas, draw_attention_maps, draw_lsp_patches
from .lsp_hook import LSPHook
from .lsp_recorder import (LSPRecorder, read_lsp_records, resolve_lsp_setting,
                           write_lsp_records)

__all__ = [
    'LSPHook', 'LSPRecorder', 'attention_canvas', 'draw_attention_maps',
    'draw_lsp_patches', 'read_lsp_records', 'resolve_lsp_setting',
    'write_lsp_records'
]
