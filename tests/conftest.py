import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
TINY_DET_CONFIG = osp.join(REPO, 'tests', 'data', 'configs', 'toy_det_tiny.py')
TINY_TOY = dict(num_train=8, num_val=4, min_size=128, max_size=160, seed=0)


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
