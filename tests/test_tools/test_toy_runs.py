"""tools/analysis_tools/_toy_runs.py: the base training (with surgery) and
the fine-tuning + test runs that the toy benchmarks share, with the tools
replaced by a recorder: the commands, the options given to both runs and
the kept results (a finished run is not run again)."""
import importlib.util
import os
import os.path as osp
import sys

from conftest import REPO

TOOLS = osp.join(REPO, 'tools', 'analysis_tools')


def load():
    sys.path.insert(0, TOOLS)
    try:
        spec = importlib.util.spec_from_file_location(
            '_toy_runs_under_test', osp.join(TOOLS, '_toy_runs.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(TOOLS)
    return module


def recorder(module, monkeypatch, output=''):
    calls = []

    def fake_run(cmd, log):
        calls.append(cmd[1:])
        if cmd[1] == 'tools/train.py':
            work_dir = cmd[cmd.index('--work-dir') + 1]
            os.makedirs(work_dir, exist_ok=True)
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work_dir, 'iter_7.pth'))
        return output, 2.5

    monkeypatch.setattr(module, 'run', fake_run)
    return calls


def test_base_model_with_surgery_and_kept(tmp_path, monkeypatch):
    runs = load()
    calls = recorder(runs, monkeypatch)
    method = dict(base='b.py', ft='f.py', surgery='randinit')
    root = str(tmp_path / 'tfa')
    result = runs.base_model(root, method, ['a=1'], iters=40)
    assert calls == [
        ['tools/train.py', 'b.py', '--work-dir', osp.join(root, 'base'), '--cfg-options',
         'a=1', 'train_cfg.max_iters=40', 'train_cfg.val_interval=40',
         'default_hooks.checkpoint.interval=40'],
        ['tools/misc/ckpt_surgery.py', 'randinit', osp.join(root, 'base', 'iter_7.pth'),
         '--config', 'f.py', '--out', osp.join(root, 'base_randinit.pth')]]
    assert result == dict(checkpoint=osp.join(root, 'base_randinit.pth'), train_s=2.5)
    # kept: a second call runs nothing
    assert runs.base_model(root, method, ['a=1'], iters=40) == result
    assert len(calls) == 2
    # a given checkpoint, no surgery, no options: nothing trained
    calls.clear()
    given = runs.base_model(str(tmp_path / 'gcn'), dict(method, surgery=None), [],
                            checkpoint='old.pth')
    assert calls == [] and given == dict(checkpoint='old.pth', train_s=None)


def test_fine_tune_and_test_gives_the_options_to_both_runs(tmp_path, monkeypatch):
    runs = load()
    calls = recorder(runs, monkeypatch, output='coco/novel/bbox_mAP_50: 0.25')
    root = str(tmp_path / 'seed1')
    base = dict(checkpoint='base.pth')
    result = runs.fine_tune_and_test(root, dict(ft='f.py'), base, ['seed=1', 'k=2'], None,
                                     runs.test_metrics)
    ckpt = osp.join(root, 'fine-tuning', 'iter_7.pth')
    assert calls == [
        ['tools/train.py', 'f.py', '--work-dir', osp.join(root, 'fine-tuning'),
         '--cfg-options', 'seed=1', 'k=2', 'load_from=base.pth'],
        ['tools/test.py', 'f.py', ckpt, '--work-dir', osp.join(root, 'test'),
         '--cfg-options', 'seed=1', 'k=2']]
    assert result == dict(metrics={'coco/novel/bbox_mAP_50': 0.25}, train_s=2.5, test_s=2.5)
    assert runs.load_json(osp.join(root, 'result.json')) == result
    assert runs.fine_tune_and_test(root, dict(ft='f.py'), base, [], None,
                                   runs.test_metrics) == result
    assert len(calls) == 2
