import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
TINY_DET_CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'toy_det_tiny.py')
TINY_TOY = dict(num_train=8, num_val=4, min_size=128, max_size=160, seed=0)


OWN_PROCESS_ENV = 'MMFSOD_TEST_OWN_PROCESS'


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """A test marked ``own_process`` runs in a child pytest of its own.

    OpenVINO's runtime (its TBB thread pool) loaded in the suite's process
    corrupted that process's heap: a later test's ``subprocess.run`` crashed
    pytest with a segmentation fault (seen on 2026-12-03 with openvino
    2026.4.1 and torch 2.13, every run of tests/test_classification). In a
    child process the engine never shares the suite's process.
    """
    if (pyfuncitem.get_closest_marker('own_process') is None
            or os.environ.get(OWN_PROCESS_ENV) == '1'):
        return None
    env = dict(os.environ, **{OWN_PROCESS_ENV: '1'})
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', pyfuncitem.nodeid],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=900)
    if proc.returncode != 0:
        pytest.fail(f'{pyfuncitem.nodeid} failed in its own process '
                    f'(exit {proc.returncode}):\n{proc.stdout[-4000:]}', pytrace=False)
    if ' passed' not in proc.stdout:  # skipped there (the engine missing)
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    return True


@pytest.fixture(scope='session')
def tiny_toy_root(tmp_path_factory):
    """A tiny toy shapes set shared by the tests (the one toy_det_tiny.py
    asks for), and MMFSOD_TEST_TOY_ROOT pointing at it."""
    from mmfsod.utils.toy_shapes import generate_toy_shapes
    root = str(tmp_path_factory.mktemp('toy') / 'toy_shapes') + '/'
    generate_toy_shapes(root, **TINY_TOY)
    old = os.environ.get('MMFSOD_TEST_TOY_ROOT')
    os.environ['MMFSOD_TEST_TOY_ROOT'] = root
    yield root
    if old is None:
        os.environ.pop('MMFSOD_TEST_TOY_ROOT', None)
    else:
        os.environ['MMFSOD_TEST_TOY_ROOT'] = old


def run_tool(args, cwd=REPO, timeout=600, env=None):
    """Run a repo script with this interpreter; return the CompletedProcess
    (stdout and stderr together in ``.stdout``)."""
    full_env = dict(os.environ, PYTHON=sys.executable, PYTHONUNBUFFERED='1')
    full_env.update(env or {})
    cmd = ([sys.executable] + list(args)) if args[0].endswith('.py') else list(args)
    return subprocess.run(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


FSOD_TOY = dict(num_train=40, num_val=6, min_size=128, max_size=160, seed=0)
FSOD_SHOTS = (1, 2, 3, 5)


@pytest.fixture(scope='session')
def fsod_toy_root(tmp_path_factory):
    """A 40-image toy shapes set with TFA K-shot files (seeds 0 and 1, shots
    1, 2, 3, 5) under ``few_shot_ann/``, written by the project's tool."""
    from mmfsod.detection.datasets.few_shot_split import write_few_shot_splits
    from mmfsod.utils.toy_shapes import generate_toy_shapes
    root = str(tmp_path_factory.mktemp('fsod') / 'toy_shapes') + '/'
    generate_toy_shapes(root, **FSOD_TOY)
    write_few_shot_splits(osp.join(root, 'annotations', 'instances_train.json'),
                          osp.join(root, 'few_shot_ann'), seeds=[0, 1], shots=FSOD_SHOTS)
    return root


def fsod_toy_config(name: str, root: str, **changes):
    """``configs/_base_/datasets/fsod_toy-shapes_<name>.py`` pointed at the
    test set ``root`` (train and val datasets), with dotted-key ``changes``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets',
                                   f'fsod_toy-shapes_{name}.py'))
    options = {'train_dataloader.dataset.dataset.data_root': root,
               'train_dataloader.dataset.dataset.generate': FSOD_TOY,
               'val_dataloader.dataset.data_root': root,
               'val_dataloader.dataset.generate': FSOD_TOY}
    options.update(changes)
    cfg.merge_from_dict(options)
    return cfg
