"""mmengine checkpoints on torch >= 2.6: resume round trip with weights_only
kept on, and a tampered checkpoint refused."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import TINY_DET_CONFIG, run_tool
from mmfsod.compat import UnsafeCheckpointError


def _tiny_runner(work_dir, **overrides):
    cfg = Config.fromfile(TINY_DET_CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.val_interval = 1000  # no evaluation in these tests
    for key, value in overrides.items():
        cfg[key] = value
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def trained(tiny_toy_root, tmp_path_factory):
    """A 2-iteration run and its checkpoint."""
    work_dir = tmp_path_factory.mktemp('ckpt')
    runner = _tiny_runner(work_dir)
    runner.train()
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    return work_dir, ckpt


class Payload:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_plain_torch_load_refuses_mmengine_checkpoint(trained):
    # The problem this compat layer solves: torch's default refuses it...
    _, ckpt = trained
    with pytest.raises(Exception, match='[Ww]eights only load failed'):
        torch.load(ckpt)


def test_resume_restores_iteration_and_optimizer(trained, tmp_path):
    work_dir, ckpt = trained
    saved = torch.load(ckpt, weights_only=False)  # our own file: trusted here
    assert saved['meta']['iter'] == 2
    assert saved['optimizer']['state'], 'SGD momentum buffers expected'

    runner = _tiny_runner(tmp_path, resume=True, load_from=ckpt)
    runner.train()  # max_iters == 2: resumes, then nothing is left to train
    assert runner.iter == 2
    restored = runner.optim_wrapper.state_dict()
    assert restored['param_groups'][0]['lr'] == saved['optimizer']['param_groups'][0]['lr']
    assert saved['optimizer']['state'].keys() == restored['state'].keys()
    for key, state in saved['optimizer']['state'].items():
        assert torch.equal(state['momentum_buffer'], restored['state'][key]['momentum_buffer'])
    # the message hub (HistoryBuffer of numpy arrays) came back too
    assert runner.message_hub.get_scalar('train/loss').current() == pytest.approx(
        saved['message_hub']['log_scalars']['train/loss'].current())


def test_resume_cli_continues_counting(trained, tmp_path):
    _, ckpt = trained
    proc = run_tool(['tools/train.py', TINY_DET_CONFIG, '--work-dir', str(tmp_path),
                     '--resume', ckpt, '--cfg-options', 'train_cfg.max_iters=3',
                     'train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=3'])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'resumed epoch: 0, iter: 2' in proc.stdout, proc.stdout[-3000:]
    assert 'Iter(train) [3/3]' in proc.stdout
    final = torch.load(tmp_path / 'iter_3.pth', weights_only=False)
    assert final['meta']['iter'] == 3


def test_tampered_checkpoint_is_refused(trained, tmp_path):
    _, ckpt = trained
    marker = tmp_path / 'payload_ran'
    evil = torch.load(ckpt, weights_only=False)
    evil['meta']['note'] = Payload(marker)
    evil_path = str(tmp_path / 'evil.pth')
    torch.save(evil, evil_path)

    runner = _tiny_runner(tmp_path / 'w')
    with pytest.raises(UnsafeCheckpointError) as err:
        runner.load_checkpoint(evil_path)
    message = str(err.value)
    assert 'evil.pth' in message and 'system' in message and 'allow' in message
    assert not marker.exists()

    proc = run_tool(['tools/test.py', TINY_DET_CONFIG, evil_path,
                     '--work-dir', str(tmp_path / 'w2')])
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stdout and 'Refusing to load' in proc.stdout
    assert not marker.exists()


def test_load_from_and_test_cli(trained, tmp_path):
    _, ckpt = trained
    proc = run_tool(['tools/test.py', TINY_DET_CONFIG, ckpt, '--work-dir', str(tmp_path),
                     '--out', str(tmp_path / 'results.pkl')])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'Load checkpoint from' in proc.stdout
    assert osp.isfile(tmp_path / 'results.pkl')


def test_allow_list_is_exact():
    """The allow-list compared as a whole set: one entry more (say
    builtins.eval) or less fails."""
    import numpy as np

    from mmfsod.compat.checkpoint import MMENGINE_CHECKPOINT_GLOBALS, _global_name
    names = [_global_name(e) for e in MMENGINE_CHECKPOINT_GLOBALS]
    assert len(names) == len(set(names))  # nothing twice
    names = set(names)
    expected = {
        'mmengine.logging.history_buffer.HistoryBuffer',
        'builtins.getattr',  # the restricted stand-in, checked below
        'collections.Counter', 'collections.OrderedDict', 'collections.defaultdict',
        'numpy.ndarray', 'numpy.dtype',
        # arrays pickled under numpy 1.x (numpy.core) and 2.x (numpy._core)
        'numpy.core.multiarray._reconstruct', 'numpy.core.multiarray.scalar'}
    if hasattr(np, '_core'):
        expected |= {'numpy._core.multiarray._reconstruct', 'numpy._core.multiarray.scalar'}
    # numpy >= 1.25 pickles dtypes by their class: every class of numpy.dtypes
    # (named as pickle names it: ByteDType is Int8DType)
    classes = [getattr(np.dtypes, n) for n in dir(getattr(np, 'dtypes', None) or ())
               if n.endswith('DType') and isinstance(getattr(np.dtypes, n), type)]
    assert all(issubclass(c, np.dtype) for c in classes)
    expected |= {f'{c.__module__}.{c.__qualname__}' for c in classes}
    assert names == expected, (sorted(names - expected), sorted(expected - names))
    # getattr is only the restricted stand-in, never the builtin itself
    getattr_entries = [e for e in MMENGINE_CHECKPOINT_GLOBALS
                       if _global_name(e) == 'builtins.getattr']
    assert len(getattr_entries) == 1 and getattr_entries[0][0] is not getattr
    from mmengine.logging.history_buffer import HistoryBuffer
    stand_in = getattr_entries[0][0]
    assert stand_in(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(Exception, match='not an attribute'):
        stand_in(HistoryBuffer, '__init__')
    assert not any(n.startswith(('os.', 'posix.', 'subprocess.')) for n in names)
