"""``_base_ = 'mmfsod::gcn_fsod/custom/...'``: mmfsod's configs from any folder.

OpenMMLab packages ship their configs inside the package, under
``<package>/.mim/configs``, and a config anywhere inherits them by package
(``_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'``). mmfsod's
are in ``mmfsod/.mim/configs``: a link to the repository's ``configs/`` in a
checkout (and an editable install), the files themselves in a wheel
(``[options.package_data]`` of setup.cfg).

mmengine 0.10 resolves ``pkg::path`` itself only for the packages of its
fixed table ``MODULE2PACKAGE`` and through ``get_installed_path``, which for
an editable install (``pip install -e .``: the package is found by an import
hook, nothing is in site-packages) points at a folder that does not exist.
:func:`patch_package_configs` (run by ``import mmfsod``) therefore:

* adds ``mmfsod`` to ``MODULE2PACKAGE`` (for mmengine's other users of it);
* resolves ``mmfsod::REL`` to ``<mmfsod's folder>/.mim/configs/REL``, the
  folder of the imported package (editable or not); a missing file is one
  ``FileNotFoundError`` naming ``REL`` and that folder;
* gives the inherited variables no ``_scope_``: mmfsod's configs carry their
  own ``default_scope`` (``mmdet`` or ``mmpretrain``) and register their
  modules there; mmengine would otherwise mark them with a scope ``mmfsod``
  that no registry has. They read exactly as a copy of the file would.

Relative ``_base_`` paths inside mmfsod's configs keep working: they are
resolved next to the installed file, in the same tree.

``import mmfsod`` must come before :meth:`mmengine.config.Config.fromfile`
(``tools/*.py`` do it; in a script: ``import mmfsod`` first).
"""
import os.path as osp
from typing import Optional, Tuple

PREFIX = 'mmfsod::'
_ACTIVE = False


def config_root() -> str:
    """The folder ``mmfsod::`` paths are relative to:
    ``<mmfsod>/.mim/configs``."""
    import mmfsod
    return osp.join(osp.dirname(osp.abspath(mmfsod.__file__)), '.mim', 'configs')


def package_config_path(cfg_path: str) -> str:
    """The file of ``'mmfsod::REL'`` (``REL`` relative to :func:`config_root`)."""
    if not cfg_path.startswith(PREFIX):
        raise ValueError(f'{cfg_path!r} is not an mmfsod:: config path')
    rel = cfg_path[len(PREFIX):]
    root = config_root()
    path = osp.normpath(osp.join(root, rel))
    if osp.isabs(rel) or not rel or not osp.isfile(path):
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'{cfg_path}: mmfsod\'s configs are not installed ({root} is missing; '
                'reinstall mmfsod: pip install -e . in a checkout)')
        raise FileNotFoundError(f'{cfg_path}: no config {rel!r} in mmfsod\'s configs ({root})')
    return path


def patch_package_configs() -> None:
    """Make mmengine's ``Config`` resolve ``mmfsod::`` paths (idempotent)."""
    global _ACTIVE
    if _ACTIVE:
        return
    from mmengine.config import Config
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('mmfsod', 'mmfsod')
    original = Config._get_cfg_path

    def _get_cfg_path(cfg_path: str, filename: str) -> Tuple[str, Optional[str]]:
        if cfg_path.startswith(PREFIX):
            return package_config_path(cfg_path), None
        return original(cfg_path, filename)

    Config._get_cfg_path = staticmethod(_get_cfg_path)
    _ACTIVE = True
