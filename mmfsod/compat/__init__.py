"""Compatibility of mmengine 0.10 / mmcv 2.1 with current PyTorch.

Activated by ``import mmfsod`` (configs import it through ``custom_imports``):

* :mod:`.checkpoint` -- mmengine checkpoints load on torch >= 2.6 with
  ``weights_only`` kept on and an explicit allow-list;
* :mod:`.dist` -- multi-process training on CPU (gloo, no CUDA calls).
"""
from .checkpoint import (MMENGINE_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                         allow_checkpoint_globals, patch_checkpoint_loading)
from .dist import init_dist_cpu, patch_cpu_distributed


def activate() -> None:
    """Apply every patch of this package (idempotent)."""
    patch_checkpoint_loading()
    patch_cpu_distributed()


__all__ = [
    'activate', 'allow_checkpoint_globals', 'init_dist_cpu',
    'MMENGINE_CHECKPOINT_GLOBALS', 'patch_checkpoint_loading',
    'patch_cpu_distributed', 'UnsafeCheckpointError'
]
