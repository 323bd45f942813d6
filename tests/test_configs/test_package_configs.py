"""mmfsod's configs inherited by package from any folder
(``_base_ = 'mmfsod::...'``, mmfsod/compat/package_configs.py), in this
checkout (editable install) and from a wheel (non-editable install)."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest
from mmengine.config import Config

from conftest import REPO
from mmfsod.compat.package_configs import config_root, package_config_path
from mmfsod.utils.tools import load_config

CONFIG_EXTS = ('.py', '.md', '.yml')


def _repo_configs():
    """Every config, README and metafile under configs/, relative to it."""
    out = []
    for folder, _, files in os.walk(osp.join(REPO, 'configs')):
        out += [osp.relpath(osp.join(folder, f), osp.join(REPO, 'configs'))
                for f in files if f.endswith(CONFIG_EXTS)]
    return sorted(p.replace(os.sep, '/') for p in out)


def _no_scope_keys(value) -> bool:
    if isinstance(value, dict):
        return '_scope_' not in value and all(_no_scope_keys(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_no_scope_keys(v) for v in value)
    return True


def test_package_configs_are_the_repository_configs():
    assert osp.samefile(config_root(), osp.join(REPO, 'configs'))
    assert osp.samefile(osp.join(config_root(), '..', 'model-index.yml'),
                        osp.join(REPO, 'model-index.yml'))


@pytest.mark.parametrize('rel', [
    'gcn_fsod/custom/gcn-fsod_r18_c4_custom_base-training.py',
    'gcn_fsod/custom/gcn-fsod_r18_c4_custom_10shot-fine-tuning.py',
    'tfa/toy/tfa_r18_fpn_toy_base-training.py',
    'anchornet/toy/anchornet_toy-clutter.py',
])
def test_child_config_elsewhere_equals_the_inherited_config(rel, tmp_path, monkeypatch):
    """A config in another folder that inherits by package reads as the
    repository's file (relative _base_ paths inside it resolved in the same
    tree); no `_scope_` is added: the inherited default_scope builds it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'my_cfg.py').write_text(f"_base_ = 'mmfsod::{rel}'\n")
    child = load_config('my_cfg.py')
    direct = load_config(osp.join(REPO, 'configs', rel))
    assert child.to_dict() == direct.to_dict()
    assert _no_scope_keys(child.to_dict())
    assert child.default_scope in ('mmdet', 'mmpretrain')


def test_child_config_model_builds_in_its_scope(tmp_path):
    from mmengine.registry import MODELS, DefaultScope
    (tmp_path / 'my_cfg.py').write_text(
        "_base_ = 'mmfsod::gcn_fsod/custom/gcn-fsod_r18_c4_custom_base-training.py'\n"
        "model = dict(backbone=dict(frozen_stages=1))\n")
    cfg = load_config(str(tmp_path / 'my_cfg.py'))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == cfg.model.type and model.backbone.frozen_stages == 1


def test_unknown_package_config_is_one_line():
    with pytest.raises(FileNotFoundError) as info:
        package_config_path('mmfsod::gcn_fsod/custom/no_such.py')
    text = str(info.value)
    assert text.startswith("mmfsod::gcn_fsod/custom/no_such.py: no config "
                           "'gcn_fsod/custom/no_such.py' in mmfsod's configs (")
    assert '\n' not in text


def _copy_source(dst: str) -> None:
    """The checkout without environments, data, outputs and build files."""
    skip = {'.git', '.venv', '.venv-dev', 'data', 'work_dirs', 'build', 'dist', 'outputs',
            '.pytest_cache', '.whl', '__pycache__'}

    def ignore(folder, names):
        top = osp.samefile(folder, REPO)
        return [n for n in names if n.endswith('.egg-info') or n == '__pycache__'
                or (top and n in skip)]

    shutil.copytree(REPO, dst, symlinks=True, ignore=ignore)


def test_wheel_ships_the_configs_and_a_child_config_loads_from_it(tmp_path):
    """A non-editable install: the wheel holds every config under
    mmfsod/.mim/configs, and a child config elsewhere inherits them from the
    installed package (not from this checkout)."""
    src, wheels, site = tmp_path / 'src', tmp_path / 'wheels', tmp_path / 'site'
    _copy_source(str(src))
    run = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    res = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                          '--no-build-isolation', '-q', '-w', str(wheels), str(src)], **run)
    assert res.returncode == 0, res.stdout[-3000:]
    (wheel, ) = wheels.glob('mmfsod-*.whl')
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    prefix = 'mmfsod/.mim/configs/'
    assert sorted(n[len(prefix):] for n in names if n.startswith(prefix)) == _repo_configs()
    assert 'mmfsod/.mim/model-index.yml' in names
    res = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
                          '--target', str(site), str(wheel)], **run)
    assert res.returncode == 0, res.stdout[-3000:]
    assert not osp.islink(site / 'mmfsod' / '.mim' / 'configs')

    work = tmp_path / 'elsewhere'
    work.mkdir()
    (work / 'my_cfg.py').write_text(
        "_base_ = 'mmfsod::gcn_fsod/custom/gcn-fsod_r18_c4_custom_10shot-fine-tuning.py'\n"
        "data_root = '/my/data/'\n")
    script = ('import mmfsod, sys\n'
              'from mmfsod.utils.tools import load_config\n'
              'cfg = load_config("my_cfg.py")\n'
              'print(mmfsod.__file__)\n'
              'print(cfg.val_evaluator.ann_file, cfg.default_scope)\n')
    env = dict(os.environ, PYTHONPATH=str(site))
    res = subprocess.run([sys.executable, '-c', script], cwd=str(work), env=env, **run)
    assert res.returncode == 0, res.stdout[-3000:]
    lines = res.stdout.strip().splitlines()
    assert lines[-2] == str(site / 'mmfsod' / '__init__.py')
    assert lines[-1] == '/my/data/annotations/val.json mmdet'


def test_mmengine_knows_the_package():
    from mmengine.config.utils import MODULE2PACKAGE
    assert MODULE2PACKAGE['mmfsod'] == 'mmfsod'
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'gcn_fsod', 'custom',
                                   'custom_dataset.py'))
    assert cfg.data_root == 'data/my_dataset/'
