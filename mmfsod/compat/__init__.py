"""Compatibility of mmengine 0.10 / mmcv 2.1 with current PyTorch.

Activated by ``import mmfsod`` (configs import it through ``custom_imports``):

* :mod:`.checkpoint` -- mmengine checkpoints load on torch >= 2.6 with
  ``weights_only`` kept on and an explicit allow-list;
* :mod:`.dist` -- multi-process training on CPU (gloo, no CUDA calls);
* :mod:`.atomic` -- checkpoints, ``last_checkpoint`` and mmengine's dumps
  are written to a temporary file, then renamed (atomic);
* :mod:`.checkpoint_files` -- a damaged checkpoint is reported naming the
  file and what is wrong; auto-resume skips it for the newest intact one;
* :mod:`.package_configs` -- ``_base_ = 'mmfsod::gcn_fsod/...'`` inherits
  mmfsod's installed configs from any folder.
"""
from .checkpoint import (MMENGINE_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                         allow_checkpoint_globals, patch_checkpoint_loading)
from .atomic import atomic_open, atomic_write, patch_atomic_saves
from .checkpoint_files import (CorruptCheckpointError, checkpoint_problem,
                               find_latest_intact_checkpoint,
                               patch_checkpoint_files)
from .dist import init_dist_cpu, patch_cpu_distributed
from .package_configs import patch_package_configs


def activate() -> None:
    """Apply every patch of this package (idempotent)."""
    patch_checkpoint_loading()
    patch_cpu_distributed()
    patch_atomic_saves()
    patch_checkpoint_files()
    patch_package_configs()


__all__ = [
    'activate', 'atomic_open', 'atomic_write', 'checkpoint_problem',
    'CorruptCheckpointError', 'find_latest_intact_checkpoint',
    'patch_atomic_saves', 'patch_checkpoint_files', 'allow_checkpoint_globals', 'init_dist_cpu',
    'MMENGINE_CHECKPOINT_GLOBALS', 'patch_checkpoint_loading',
    'patch_cpu_distributed', 'patch_package_configs', 'UnsafeCheckpointError'
]
